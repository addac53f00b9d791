"""The one form an email address is stored and compared in.

Syntax is checked by email-validator. The address is NFKC-normalised first, so full-width
and other compatibility look-alikes become the plain address they imitate (and collide
with it); the part before the @ must then be ASCII, and a non-ASCII domain is stored in
its ASCII (IDNA) form. Everything stored is ASCII, so SQL's lower() (the unique index
`lower(email)` among live users, and every lookup) folds case the same in every locale.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from app.core.errors import FieldValidationError
from app.core.json_values import text_problem

EMAIL_MAX_LENGTH = 320


def normalise_email(value: object, field: str = "email") -> str:
    """The stored form of an address (case kept as typed); FieldValidationError if invalid."""
    if not isinstance(value, str):
        raise FieldValidationError(field, "must be a string")
    if (problem := text_problem(value)) is not None:
        raise FieldValidationError(field, problem)
    text = unicodedata.normalize("NFKC", value).strip()
    if len(text) > EMAIL_MAX_LENGTH:
        raise FieldValidationError(field, f"longer than {EMAIL_MAX_LENGTH} characters")
    try:
        parsed = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise FieldValidationError(field, f"not a valid email address: {exc}") from None
    local = text.rpartition("@")[0]
    typed_domain = text.rpartition("@")[2]
    domain = typed_domain if typed_domain.isascii() else parsed.ascii_domain
    return f"{local}@{domain}"
