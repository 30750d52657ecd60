"""Table definitions (SQLAlchemy Core). API schemas live elsewhere; these are storage only."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

products = Table(
    "products",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("repayment_method", String(32), nullable=False),
    Column("lender_type", String(40), nullable=False),
    Column("definition_json", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every definition a product has had (migration 0010): a loan keeps the version it was signed
# under, and an edit says who made it, when, and what changed (before/after per field).
product_versions = Table(
    "product_versions",
    metadata,
    Column("code", String(40), ForeignKey("products.code"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition_json", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("source", String(16), nullable=False),  # "catalogue" (a product file) or "console" (staff)
    Column("changed_by", String(64), nullable=False),
    Column("changes_json", Text, nullable=False, server_default="[]"),  # [{field, before, after}]
    Column("changed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("code", "version", name="pk_product_versions"),
)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("code", String(8), nullable=False),
    Column("owner", String(100), nullable=False, server_default=""),
    Column("type", String(16), nullable=False),
    Column("debits_posted_minor", BigInteger, nullable=False, server_default="0"),
    Column("credits_posted_minor", BigInteger, nullable=False, server_default="0"),
    Column("version", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("code", "owner", name="uq_ledger_accounts_code_owner"),
    CheckConstraint("debits_posted_minor >= 0 AND credits_posted_minor >= 0", name="posted_nonnegative"),
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("code", String(32), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("reverses_id", String(100), ForeignKey("ledger_transfers.id"), nullable=True, unique=True),
    Column("content_hash", String(64), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("entry_count", Integer, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("total_minor > 0 AND entry_count >= 2", name="nonempty"),
)
Index("ix_ledger_transfers_business_date", ledger_transfers.c.business_date)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("transfer_id", String(100), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("account_id", BigInteger, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("side", String(1), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    PrimaryKeyConstraint("transfer_id", "seq", name="pk_ledger_entries"),
    # Entries are written first, the transfer row last (it "seals" them): the FK waits for commit.
    ForeignKeyConstraint(
        ["transfer_id"],
        ["ledger_transfers.id"],
        name="fk_ledger_entries_transfer",
        deferrable=True,
        initially="DEFERRED",
    ),
    CheckConstraint("side IN ('D', 'C')", name="side"),
    CheckConstraint("amount_minor > 0", name="positive"),
)
Index("ix_ledger_entries_account_id", ledger_entries.c.account_id)

# --- borrowers, consent, sign-in (migration 0002) ---------------------------------------------

borrowers = Table(
    "borrowers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("name", String(200), nullable=False),
    Column("id_number_enc", Text, nullable=False),
    Column("id_number_hash", String(64), nullable=False, unique=True),
    Column("id_number_masked", String(32), nullable=False),
    Column("phone_enc", Text, nullable=False),
    Column("phone_hash", String(64), nullable=False, index=True),
    Column("phone_masked", String(16), nullable=False),
    Column("region", String(12), nullable=False),
    Column("industry", String(40), nullable=True),
    Column("staff_count", Integer, nullable=True),
    Column("annual_revenue_minor", BigInteger, nullable=True),
    Column("total_assets_minor", BigInteger, nullable=True),
    Column("established_on", Date, nullable=True),  # a business's registration date (migration 0008)
    Column("size_class", String(16), nullable=False),
    Column("inclusive", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # set when the retention job replaced the identifiers with tombstones (migration 0011)
    Column("anonymised_on", Date, nullable=True),
)

consents = Table(
    "consents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("scope", String(32), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("text_version", String(40), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("partner", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("phone_hash", String(64), nullable=False, index=True),
    Column("client_ip", String(64), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("consumed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("phone_enc", Text, nullable=False),
    Column("phone_masked", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# --- origination (migration 0003) -------------------------------------------------------------

applications = Table(
    "applications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("decision_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

offers = Table(
    "offers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False, unique=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("rate_annual", String(12), nullable=False),
    Column("apr_percent", String(12), nullable=False),
    Column("upfront_fee_minor", BigInteger, nullable=False),
    Column("schedule_json", Text, nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# --- contracts and loans (migration 0004) -----------------------------------------------------

contracts = Table(
    "contracts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("offer_id", String(36), ForeignKey("offers.id"), nullable=False, unique=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("terms_json", Text, nullable=False),
    Column("document_html", Text, nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("platform_signature", Text, nullable=False),
    Column("status", String(24), nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

loans = Table(
    "loans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("contract_id", String(36), ForeignKey("contracts.id"), nullable=False, unique=True),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("rate_annual", String(12), nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("status", String(24), nullable=False),
    Column("schedule_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("product_version", Integer, nullable=True),  # the product's terms it was signed under
)

# --- disbursement, outbox, idempotency (migration 0005) ---------------------------------------

disbursements = Table(
    "disbursements",
    metadata,
    Column("id", String(36), primary_key=True),  # also the payout id at the bank
    Column("loan_id", String(36), ForeignKey("loans.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("net_minor", BigInteger, nullable=False),
    Column("account_enc", Text, nullable=False),
    Column("account_masked", String(32), nullable=False),
    Column("failure_reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    # keyed hash of the card (migration 0008): finds other borrowers paid to the same account
    Column("account_hash", String(64), nullable=True, index=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("ref_id", String(36), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def _fen(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=False, server_default="0")


installments = Table(
    "installments",
    metadata,
    Column("loan_id", String(36), ForeignKey("loans.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("due_date", Date, nullable=False),
    Column("period_days", Integer, nullable=False),
    _fen("principal_minor"),
    _fen("interest_minor"),
    _fen("fee_minor"),
    _fen("paid_principal_minor"),
    _fen("paid_interest_minor"),
    _fen("paid_fee_minor"),
    Column("status", String(12), nullable=False),
    Column("paid_on", Date, nullable=True),
)

# One row per loan: what the end-of-day run reads and updates set-based (never the history).
loan_servicing = Table(
    "loan_servicing",
    metadata,
    Column("loan_id", String(36), ForeignKey("loans.id"), primary_key=True),
    Column("borrower_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("schedule_version", Integer, nullable=False),
    Column("rate_ppm", Integer, nullable=False),
    Column("penalty_rate_ppm", Integer, nullable=False),
    Column("basis_days", Integer, nullable=False),
    Column("next_seq", Integer, nullable=True),
    Column("next_due_date", Date, nullable=True),
    Column("period_start", Date, nullable=True),
    Column("period_days", Integer, nullable=False, server_default="0"),
    _fen("period_interest_minor"),
    _fen("period_fee_minor"),
    _fen("period_principal_minor"),
    _fen("accrued_in_period_minor"),
    _fen("not_due_principal_minor"),
    _fen("due_principal_minor"),
    _fen("due_interest_minor"),
    _fen("due_fee_minor"),
    _fen("penalty_minor"),
    Column("penalty_basis_days", BigInteger, nullable=False, server_default="0"),
    _fen("penalty_posted_minor"),
    Column("overdue_since", Date, nullable=True),
    Column("dpd", Integer, nullable=False, server_default="0"),
    Column("max_dpd", Integer, nullable=False, server_default="0"),
    Column("risk_class", Integer, nullable=False, server_default="1"),
    Column("stage", Integer, nullable=False, server_default="1"),
    _fen("provision_minor"),
    _fen("written_off_minor"),
    _fen("recovered_minor"),
    Column("principal_account_id", BigInteger, nullable=False),
    Column("interest_account_id", BigInteger, nullable=False),
    Column("fee_account_id", BigInteger, nullable=False),
    Column("penalty_account_id", BigInteger, nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("closed_on", Date, nullable=True),
    Column("last_eod_date", Date, nullable=True),
    # the day a payment last cleared an overdue; null while overdue, and for a loan never overdue
    Column("current_since", Date, nullable=True),
)

repayments = Table(
    "repayments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("loan_id", String(36), ForeignKey("loans.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("channel_reference", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("paid_on", Date, nullable=False),
    _fen("amount_minor"),
    _fen("penalty_minor"),
    _fen("fee_minor"),
    _fen("interest_minor"),
    _fen("principal_minor"),
    _fen("excess_minor"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # a bank reference (or the Idempotency-Key, for the API) is posted once per channel
    UniqueConstraint("channel", "channel_reference", name="uq_repayments_channel_reference"),
)

schedule_changes = Table(
    "schedule_changes",
    metadata,
    Column("loan_id", String(36), ForeignKey("loans.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("effective_on", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every change of a loan's five-category class to a better one, with its recorded reason (rule 9).
risk_class_changes = Table(
    "risk_class_changes",
    metadata,
    Column("loan_id", String(36), ForeignKey("loans.id"), primary_key=True),
    Column("business_date", Date, primary_key=True),
    Column("from_class", Integer, nullable=False),
    Column("to_class", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("current_since", Date, nullable=True),
    Column("actor", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

eod_runs = Table(
    "eod_runs",
    metadata,
    Column("business_date", Date, primary_key=True),
    Column("status", String(12), nullable=False),
    Column("loans", Integer, nullable=False),
    Column("summary_json", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

# --- manual review (migration 0007) -----------------------------------------------------------

application_reviews = Table(
    "application_reviews",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # order of actions on one application (clocks tie)
    Column("actor", String(100), nullable=False),  # the staff user id
    Column("actor_role", String(16), nullable=False),
    Column("action", String(16), nullable=False),  # ReviewAction
    Column("amount_minor", BigInteger, nullable=True),  # proposed terms (propose_terms only)
    Column("term_months", Integer, nullable=True),
    Column("rate_annual", String(12), nullable=True),
    Column("apr_percent", String(12), nullable=True),  # the APR the maker was shown
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("application_id", "seq", name="uq_application_reviews_application_seq"),
)

Index("ix_applications_status_created_at", applications.c.status, applications.c.created_at)

Index(
    "ix_installments_scheduled_due_date",
    installments.c.due_date,
    postgresql_where=installments.c.status == "scheduled",
    sqlite_where=installments.c.status == "scheduled",
)
Index("ix_loan_servicing_status", loan_servicing.c.status)
Index("ix_loan_servicing_borrower_id", loan_servicing.c.borrower_id)
Index("ix_loan_servicing_next_due_date", loan_servicing.c.next_due_date)

# --- risk control (migration 0008) ----------------------------------------------------------

# Alternative data a borrower consented to share, one row per source row. The payload is the
# validated row (risk/data/schemas.py) as JSON with money in fen (`<field>_minor`); the natural
# key of the row within its source makes a re-sent row a duplicate, not a second copy.
borrower_data = Table(
    "borrower_data",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False),
    Column("source", String(24), nullable=False),  # risk.data.schemas.Source
    Column("row_key", String(200), nullable=False),
    Column("observed_on", Date, nullable=True),  # the row's own date (occurred, issued, due, seen)
    Column("payload_json", Text, nullable=False),
    Column("batch_id", String(36), nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("borrower_id", "source", "row_key", name="uq_borrower_data_borrower_source_key"),
)
# the data version a decision reads (newest id and count per source) from the index alone
Index("ix_borrower_data_borrower_source_id", borrower_data.c.borrower_id, borrower_data.c.source, borrower_data.c.id)

# One upload (API call or CLI file): what came in, what was kept, what was refused and why.
data_batches = Table(
    "data_batches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False),
    Column("source", String(24), nullable=False),
    Column("input_format", String(12), nullable=False),  # json | csv | parquet
    Column("received", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("rejections_json", Text, nullable=False),  # [{index, problems: [{field, message}]}], capped
    Column("actor", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every credit decision, with what it was made from, so that it can be replayed to the same result.
risk_decisions = Table(
    "risk_decisions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False),
    Column("application_id", String(36), nullable=True),  # None: a pre-approval
    Column("decided_on", Date, nullable=False),
    Column("request_json", Text, nullable=False),  # product, amount, term, kind, exposure
    Column("features_json", Text, nullable=False),  # the model's input row
    Column("fraud_json", Text, nullable=False),  # flags raised by the fraud checks
    Column("result_json", Text, nullable=False),  # outcome, limit, rate, apr, pd, score, reasons
    Column("trace_json", Text, nullable=False),  # the policy tables' trace: the audit record
    Column("model_version", String(120), nullable=True),
    Column("policy_version", String(120), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

Index("ix_risk_decisions_borrower_created", risk_decisions.c.borrower_id, risk_decisions.c.created_at)

# Alerts for operations and risk: anomalous transfers intercepted, rings, velocity, model drift.
risk_alerts = Table(
    "risk_alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),  # risk.fraud.AlertKind
    Column("severity", String(8), nullable=False),  # info | warn | block
    Column("borrower_id", String(36), nullable=True),
    Column("subject", String(100), nullable=True),  # what it is about: a loan, payout, repayment
    Column("details_json", Text, nullable=False),
    Column("status", String(12), nullable=False),  # open | resolved
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_by", String(100), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", Text, nullable=True),
    # one alert per kind and subject: a replayed callback or a retried request raises none again
    UniqueConstraint("kind", "subject", name="uq_risk_alerts_kind_subject"),
)

Index("ix_risk_alerts_status_created", risk_alerts.c.status, risk_alerts.c.created_at)

# What each application reported about where it came from (fraud checks: velocity, rings).
application_signals = Table(
    "application_signals",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("decision_id", String(36), nullable=False),
    Column("phone_hash", String(64), nullable=False),
    Column("device_id", String(64), nullable=True),
    Column("network_hash", String(64), nullable=True),  # keyed hash of the client's /24 (IPv4) or /48 (IPv6)
    Column("created_at", DateTime(timezone=True), nullable=False),
)

Index("ix_application_signals_phone_created", application_signals.c.phone_hash, application_signals.c.created_at)
Index("ix_application_signals_device_created", application_signals.c.device_id, application_signals.c.created_at)
Index("ix_application_signals_network_created", application_signals.c.network_hash, application_signals.c.created_at)

# Accounts risk staff have flagged: a payout to one is intercepted.
flagged_accounts = Table(
    "flagged_accounts",
    metadata,
    Column("account_hash", String(64), primary_key=True),
    Column("account_masked", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("flagged_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every time staff see a borrower's identifiers in full (migration 0009): who, whose, why, when.
pii_access_log = Table(
    "pii_access_log",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("staff_id", String(64), nullable=False),
    Column("staff_role", String(16), nullable=False),
    Column("fields", String(200), nullable=False),  # comma-separated: id_number,phone
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per anonymised borrower (migration 0011): the retention rule that applied, the last
# activity it counted from, and how many rows of each table it changed. No personal data.
retention_log = Table(
    "retention_log",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("borrower_id", String(36), ForeignKey("borrowers.id"), nullable=False, unique=True),
    Column("rule", String(24), nullable=False),  # services.retention.RetentionRule
    Column("last_activity_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("business_date", Date, nullable=False),
    Column("rows_json", Text, nullable=False),  # {table: rows changed or deleted}
    Column("created_at", DateTime(timezone=True), nullable=False),
)
