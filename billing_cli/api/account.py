"""The seller profile (`billing account update|show`) and the address and tax-id input that
the account and customers share.

Everything is optional and updated field by field (Stripe's update semantics: what is not
given stays); an empty string clears a field. An invoice takes the profile as it stands when
it is finalized, so a change reaches every invoice finalized after it and none before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from billing_cli.api.context import Context, check_text
from billing_cli.domain.models import Account, Address, TaxId
from billing_cli.domain.parties import COUNTRIES, bic_checked, iban_checked, tax_id_type
from billing_cli.errors import InvalidInput

# Letters and digits, optionally with spaces, dots, dashes or slashes (DE123456789,
# GB 123 4567 89, 12/345/67890): a tax id is printed as given, never parsed further.
_TAX_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]{1,38}[A-Za-z0-9]")


@dataclass(frozen=True)
class AddressInput:
    """The `--address-*`, `--postal-code`, `--city`, `--state`, `--country` options; None
    leaves a field as it is, "" clears it."""

    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None

    def given(self) -> bool:
        return any(v is not None for v in vars(self).values())


def _field(new: str | None, old: str | None) -> str | None:
    if new is None:
        return old
    return new or None


def merge_address(current: Address | None, given: AddressInput) -> Address | None:
    """`current` with the given fields changed; None when every field ends up empty."""
    if not given.given():
        return current
    for name, limit in (
        ("line1", 200),
        ("line2", 200),
        ("postal_code", 20),
        ("city", 100),
        ("state", 100),
    ):
        check_text(getattr(given, name), field=f"--{_option(name)}", max_len=limit)
    country = given.country
    if country:
        country = country.upper()
        if country not in COUNTRIES:
            raise InvalidInput(
                f"--country {given.country!r} is not an ISO 3166-1 alpha-2 country code",
                hint="use two letters, e.g. --country DE",
            )
    old = current or Address()
    merged = Address(
        line1=_field(given.line1, old.line1),
        line2=_field(given.line2, old.line2),
        postal_code=_field(given.postal_code, old.postal_code),
        city=_field(given.city, old.city),
        state=_field(given.state, old.state),
        country=_field(country, old.country),
    )
    return None if merged == Address() else merged


def _option(name: str) -> str:
    return {"line1": "address-line1", "line2": "address-line2"}.get(name, name.replace("_", "-"))


def parse_tax_id(value: str, *, field: str = "--tax-id") -> str:
    """A VAT (or other tax) number as printed on invoices: 3–40 letters, digits, spaces, dots,
    dashes or slashes."""
    if not _TAX_ID_RE.fullmatch(value):
        raise InvalidInput(
            f"{field} {value!r} is not a tax id",
            hint="give the number with its country prefix, e.g. DE123456789",
        )
    return value


def parse_tax_ids(values: list[str] | None) -> tuple[TaxId, ...] | None:
    """Repeated `--tax-id`: None when not given; a single empty value clears the list."""
    if values is None:
        return None
    if values == [""]:
        return ()
    return tuple(TaxId(tax_id_type(v), parse_tax_id(v)) for v in values)


def check_email(email: str | None, *, field: str = "--email") -> None:
    check_text(email, field=field, max_len=512)
    if email and (email.count("@") != 1 or " " in email or email.startswith("@")):
        raise InvalidInput(
            f"{field} {email!r} is not an email address", hint="e.g. max@example.com"
        )


# -- the account --------------------------------------------------------------------------------


def get_account(ctx: Context) -> Account:
    with ctx.ledger(write=False) as led:
        return led.get_account()


def update_account(
    ctx: Context,
    *,
    business_name: str | None = None,
    address: AddressInput | None = None,
    tax_id: str | None = None,
    email: str | None = None,
    invoice_footer: str | None = None,
    iban: str | None = None,
    bic: str | None = None,
) -> Account:
    """Change the given fields of the seller profile (creating it on the first update)."""
    check_text(business_name, field="--business-name", max_len=256)
    check_email(email)
    check_text(invoice_footer, field="--invoice-footer", max_len=5000)
    if tax_id:
        parse_tax_id(tax_id)
    if iban:
        checked = iban_checked(iban)
        if checked is None:
            raise InvalidInput(
                f"--iban {iban!r} is not an IBAN (its check digits do not hold)",
                hint="copy it from the bank statement, e.g. DE89 3704 0044 0532 0130 00",
            )
        iban = checked
    if bic:
        checked = bic_checked(bic)
        if checked is None:
            raise InvalidInput(
                f"--bic {bic!r} is not a BIC", hint="8 or 11 characters, e.g. COBADEFFXXX"
            )
        bic = checked
    with ctx.ledger(write=True) as led, led.write():
        current = led.get_account()
        account = replace(
            current,
            business_name=_field(business_name, current.business_name),
            address=merge_address(current.address, address or AddressInput()),
            tax_id=_field(tax_id, current.tax_id),
            email=_field(email, current.email),
            invoice_footer=_field(invoice_footer, current.invoice_footer),
            iban=_field(iban, current.iban),
            bic=_field(bic, current.bic),
            updated=ctx.now_ts,
        )
        led.put_account(account)
    return account
