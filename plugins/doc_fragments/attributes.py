# -*- coding: utf-8 -*-
# Copyright (c) colima_services.devenv contributors
# MIT License (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The attribute every module of this collection that is really an action plugin declares.
    ACTION = r"""
attributes:
  action:
    support: full
    description: Runs on the controller as an action plugin.
"""
