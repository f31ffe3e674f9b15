# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)
"""When a certificate expires, for every caller (vault_access's renewal check, the fast path's due date), with the
cryptography versions that have not_valid_after_utc and those that only have the naive not_valid_after.

Private to this collection (leading underscore): no compatibility promise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime


def not_after(cert):
    """A cryptography x509.Certificate's expiry as an aware UTC datetime."""
    aware = getattr(cert, "not_valid_after_utc", None)
    return aware or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
