"""Seller and buyer on an invoice: the snapshot taken at finalization and its canonical data.

One mechanism serves storage (a JSON column), the invoice hash and the renderers: `to_data`
gives the plain dict in Stripe's field names (`customer_name`, `customer_address`,
`customer_tax_ids`, `account_name`, …), `from_data` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from billing_cli.domain.models import Account, Address, Customer, Parties, TaxId

__all__ = [
    "COUNTRIES",
    "address_data",
    "address_from_data",
    "bic_checked",
    "from_data",
    "iban_checked",
    "snapshot",
    "tax_id_type",
    "to_data",
]

# ISO 3166-1 alpha-2, the codes Stripe's `address.country` takes.
COUNTRIES = frozenset(
    (
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
        "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
        "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
        "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
        "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
        "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
        "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
        "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
        "VN VU WF WS YE YT ZA ZM ZW "
    ).split()
)
# VAT number prefixes of the EU member states (Greece's is EL) and Northern Ireland (XI).
_EU_VAT_PREFIXES = frozenset(
    "AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI".split()
)
_OTHER_VAT_PREFIXES = {"GB": "gb_vat", "CH": "ch_vat", "NO": "no_vat"}


_BIC_RE = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


def iban_checked(text: str) -> str | None:
    """The IBAN without spaces, upper case, when its ISO 13616 check digits hold (mod 97 = 1);
    None when it is no IBAN."""
    iban = text.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban) or iban[:2] not in COUNTRIES:
        return None
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return iban if int(digits) % 97 == 1 else None


def bic_checked(text: str) -> str | None:
    bic = text.replace(" ", "").upper()
    return bic if _BIC_RE.fullmatch(bic) else None


def tax_id_type(value: str) -> str:
    """Stripe's tax id `type` for a VAT number, read from its country prefix (`DE…` is
    `eu_vat`); `unknown` when the prefix names no VAT scheme billing knows."""
    prefix = value[:2].upper()
    if prefix in _EU_VAT_PREFIXES:
        return "eu_vat"
    return _OTHER_VAT_PREFIXES.get(prefix, "unknown")


def snapshot(account: Account, customer: Customer) -> Parties:
    """The seller and buyer details an invoice is issued with, as they stand now."""
    return Parties(
        account_name=account.business_name,
        account_address=account.address,
        account_tax_id=account.tax_id,
        account_email=account.email,
        footer=account.invoice_footer,
        customer_name=customer.name,
        customer_email=customer.email,
        customer_address=customer.address,
        customer_tax_ids=customer.tax_ids,
        account_iban=account.iban,
        account_bic=account.bic,
        customer_buyer_reference=customer.buyer_reference,
    )


def address_data(address: Address | None) -> dict[str, Any] | None:
    return None if address is None else asdict(address)


def address_from_data(data: dict[str, Any] | None) -> Address | None:
    return None if data is None else Address(**data)


def to_data(p: Parties) -> dict[str, Any]:
    return {
        "account_name": p.account_name,
        "account_address": address_data(p.account_address),
        "account_tax_id": p.account_tax_id,
        "account_email": p.account_email,
        "footer": p.footer,
        "customer_name": p.customer_name,
        "customer_email": p.customer_email,
        "customer_address": address_data(p.customer_address),
        "customer_tax_ids": [{"type": t.type, "value": t.value} for t in p.customer_tax_ids],
        # later fields appear only when set, so a snapshot taken before they existed keeps the
        # very data (and hash) it was issued with
        **{key: value for key, value in _later_fields(p).items() if value is not None},
    }


def _later_fields(p: Parties) -> dict[str, str | None]:
    return {
        "account_iban": p.account_iban,
        "account_bic": p.account_bic,
        "customer_buyer_reference": p.customer_buyer_reference,
    }


def from_data(data: dict[str, Any]) -> Parties:
    return Parties(
        account_name=data["account_name"],
        account_address=address_from_data(data["account_address"]),
        account_tax_id=data["account_tax_id"],
        account_email=data["account_email"],
        footer=data["footer"],
        customer_name=data["customer_name"],
        customer_email=data["customer_email"],
        customer_address=address_from_data(data["customer_address"]),
        customer_tax_ids=tuple(TaxId(t["type"], t["value"]) for t in data["customer_tax_ids"]),
        account_iban=data.get("account_iban"),
        account_bic=data.get("account_bic"),
        customer_buyer_reference=data.get("customer_buyer_reference"),
    )
