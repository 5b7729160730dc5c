"""The HTTP face: Stripe's API over the ledger (`billing serve`), Starlette + uvicorn."""
