import sys

from devenv_cli.main import main

sys.exit(main())
