"""The demo bank's customers and loan products: what `seed_demo` loads and the console's playground
calls as (its first customer). Fictional: the 555-01xx numbers are reserved for fiction.
"""
import datetime

# (name, phone, profile, cards, accounts, transactions): a card is (network, last4, bill) and a
# transaction (days ago, "card"/"account" last4, merchant, amount, direction).
CUSTOMERS = [
    ("Jane Doe", "+15550100001",
     dict(date_of_birth=datetime.date(1985, 4, 12), address_line="12 Market Street", city="Springfield",
          postal_code="62701", time_zone="America/Chicago", email="jane.doe@example.com"),
     [("Visa", "4242", dict(current_balance="845.20", statement_balance="812.40", minimum_due="35.00"))],
     [("checking", "1234", "1200.50"), ("savings", "5678", "8450.00")],
     [(1, "4242", "Blue Bottle Coffee", "4.75", "debit"), (2, "4242", "Amazon", "59.99", "debit"),
      (2, "1234", "Whole Foods", "82.37", "debit"), (3, "4242", "Shell", "45.10", "debit"),
      (4, "4242", "Electronics Hub", "899.00", "debit"), (5, "1234", "Acme Payroll", "2400.00", "credit"),
      (6, "4242", "Netflix", "15.49", "debit"), (7, "1234", "Parkview Rent", "1500.00", "debit")]),
    ("John Smith", "+15550100002",
     dict(date_of_birth=datetime.date(1979, 11, 30), address_line="48 Oak Avenue", city="Portland",
          postal_code="97205", time_zone="America/Los_Angeles", email="john.smith@example.com"),
     [("Mastercard", "5454", dict(current_balance="120.00", statement_balance="120.00", minimum_due="25.00")),
      ("Visa", "1881", dict())],
     [("checking", "9876", "310.25")],
     [(1, "5454", "City Parking", "12.00", "debit"), (3, "9876", "Corner Market", "23.40", "debit")]),
]

LOANS = [
    dict(kind="personal", name="Everyday Personal Loan", apr_min="7.99", apr_max="18.99", term_min_months=12,
         term_max_months=60, amount_min=1000, amount_max=40000,
         description="A fixed-rate loan for anything from repairs to a wedding."),
    dict(kind="home", name="Fixed Rate Home Loan", apr_min="5.49", apr_max="6.99", term_min_months=120,
         term_max_months=360, amount_min=50000, amount_max=1500000,
         description="A mortgage with a rate that stays the same for the whole term."),
    dict(kind="auto", name="New and Used Car Loan", apr_min="4.99", apr_max="11.49", term_min_months=24,
         term_max_months=84, amount_min=5000, amount_max=100000,
         description="Finance a new or used car, with no early repayment fee."),
]

# The demo customers' authenticator apps (bank.totp), enrolled by `seed_demo` when FINTALK_SEALING_KEY is
# set. FOR THE DEMO ONLY: these secrets are public (README "Level 2"), so add them to any authenticator
# app, or get the code now with `python -c "import pyotp; print(pyotp.TOTP('FINTALKDEMOJANEAUTHENTICATORKEYA').now())"`.
# A real customer's secret is made by the admin's enrolment, shown once, and kept sealed.
DEMO_AUTHENTICATORS = {"+15550100001": "FINTALKDEMOJANEAUTHENTICATORKEYA", "+15550100002": "FINTALKDEMOJOHNAUTHENTICATORKEYA"}
