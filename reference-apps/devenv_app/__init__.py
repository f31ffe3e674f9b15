"""What both reference applications share: settings, the Vault and data-service clients (pools, timeouts, circuit
breakers), the operations behind every route of reference-apps/openapi.yaml, logging, metrics and the server.

The two apps differ only in how their routes are declared: reference_api in code (its OpenAPI document generated
from it), api_first from the OpenAPI document. The work behind a route is here, once."""

VERSION = "1.0.0"
