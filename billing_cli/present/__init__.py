"""Stripe-shaped renderings of domain records (JSON today; documents later)."""
