"""Principals, tickets, passwords, bearer tokens and application tokens: one layer every protocol uses.

The modules are imported by name (``services87.auth.service``, ``.passwords``, ``.http``, ``.revocation``): the
settings need only the password profiles, and a command that fails on its arguments should not pay for the store.
"""
