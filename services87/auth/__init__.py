"""Principals, tickets, passwords, bearer tokens and application tokens: one layer every protocol uses."""

from services87.auth.service import AuthError, AuthService, Principal

__all__ = ["AuthError", "AuthService", "Principal"]
