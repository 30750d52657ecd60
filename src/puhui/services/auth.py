"""Sign-in: phone OTP for borrowers (rate-limited), passwords for staff (argon2, lock-out),
API keys for partners, and opaque bearer tokens stored only as their hash."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import Connection, String, and_, bindparam, func, select

from puhui.adapters.crypto import secret_hash
from puhui.adapters.db.tables import api_keys, auth_tokens, otp_challenges, sms_outbox, staff_users
from puhui.bootstrap import Container
from puhui.clock import as_utc
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.identity import IdentifierError, mask_mobile, normalise_mobile

PHONE_CONTEXT = "borrower.phone"
LOCKOUT_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_hasher = PasswordHasher()


class AuthError(Exception):
    """Bad credentials (401). The message never says which part was wrong."""

    code = "unauthorized"


class RateLimited(Exception):
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class OtpSent:
    expires_in_s: int
    demo_otp: str | None  # only in demo mode (PUHUI_ENV=demo)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    role: Role
    expires_in_s: int


def _mobile(phone: str) -> str:
    try:
        return normalise_mobile(phone)
    except IdentifierError as exc:
        raise DomainValidationError([FieldProblem("phone", str(exc))]) from None


def phone_hash(container: Container, phone: str) -> str:
    return container.cipher.lookup_hash(_mobile(phone), PHONE_CONTEXT)


def request_otp(container: Container, phone: str, client_ip: str) -> OtpSent:
    """Create a 6-digit OTP and queue the SMS; at most N a minute per phone and per IP (429)."""
    number = _mobile(phone)
    digest = container.cipher.lookup_hash(number, PHONE_CONTEXT)
    now = container.clock.now()
    settings = container.settings
    code = f"{secrets.randbelow(10**6):06d}"

    def work(conn: Connection) -> None:
        since = now - timedelta(minutes=1)
        recent = select(func.count()).select_from(otp_challenges).where(otp_challenges.c.created_at > since)
        if conn.execute(recent.where(otp_challenges.c.phone_hash == digest)).scalar_one() >= (
            settings.otp_per_phone_per_minute
        ):
            raise RateLimited("too many codes requested for this phone; wait a minute", 60)
        if conn.execute(recent.where(otp_challenges.c.client_ip == client_ip)).scalar_one() >= (
            settings.otp_per_ip_per_minute
        ):
            raise RateLimited("too many codes requested from this address; wait a minute", 60)
        conn.execute(
            otp_challenges.insert().values(
                id=str(uuid.uuid4()),
                phone_hash=digest,
                client_ip=client_ip,
                code_hash=secret_hash(f"{digest}:{code}"),
                attempts=0,
                expires_at=now + timedelta(seconds=settings.otp_ttl_seconds),
                created_at=now,
            )
        )
        conn.execute(
            sms_outbox.insert().values(
                id=str(uuid.uuid4()),
                phone_enc=container.cipher.encrypt(number, PHONE_CONTEXT),
                phone_masked=mask_mobile(number),
                message=f"【普惠】您的验证码是 {code}，{settings.otp_ttl_seconds // 60} 分钟内有效。Your code: {code}",
                created_at=now,
            )
        )

    container.db.transaction(work)
    return OtpSent(settings.otp_ttl_seconds, code if settings.is_demo else None)


def consume_otp(container: Container, digest: str, otp: str) -> bool:
    """Spend the newest unexpired OTP of the phone with this keyed hash; wrong codes count as tries."""
    now = container.clock.now()

    def work(conn: Connection) -> bool:
        row = conn.execute(
            select(otp_challenges)
            .where(and_(otp_challenges.c.phone_hash == digest, otp_challenges.c.consumed_at.is_(None)))
            .order_by(otp_challenges.c.created_at.desc())
            .limit(1)
        ).first()
        if row is None or as_utc(row.expires_at) < now or row.attempts >= container.settings.otp_max_attempts:
            return False
        ok = secrets.compare_digest(row.code_hash, secret_hash(f"{digest}:{otp.strip()}"))
        values = {"consumed_at": now} if ok else {"attempts": row.attempts + 1}
        conn.execute(otp_challenges.update().where(otp_challenges.c.id == row.id).values(**values))
        return ok

    return container.db.transaction(work)


def token_by_otp(container: Container, phone: str, otp: str) -> IssuedToken:
    """Exchange the newest unexpired OTP for a borrower token."""
    digest = phone_hash(container, phone)
    if not consume_otp(container, digest, otp):
        raise AuthError("the code is wrong or has expired; request a new one")
    return issue_token(container, Principal(SubjectKind.PHONE, digest, Role.BORROWER))


def token_by_password(container: Container, username: str, password: str) -> IssuedToken:
    now = container.clock.now()

    def work(conn: Connection) -> Principal | None:
        user = conn.execute(select(staff_users).where(staff_users.c.username == username)).first()
        if user is None or not user.active:
            _hasher.hash(password)  # same work whether or not the user exists
            return None
        if user.locked_until is not None and as_utc(user.locked_until) > now:
            raise RateLimited("too many failed sign-ins; the account is locked for 15 minutes", 900)
        try:
            _hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, InvalidHashError):
            failures = user.failed_logins + 1
            locked = now + LOCKOUT if failures >= LOCKOUT_FAILURES else None
            conn.execute(
                staff_users.update()
                .where(staff_users.c.id == user.id)
                .values(failed_logins=0 if locked else failures, locked_until=locked)
            )
            return None
        conn.execute(staff_users.update().where(staff_users.c.id == user.id).values(failed_logins=0))
        return Principal(SubjectKind.STAFF, user.id, Role(user.role))

    principal = container.db.transaction(work)
    if principal is None:
        raise AuthError("wrong username or password")
    return issue_token(container, principal)


def issue_token(container: Container, principal: Principal) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    now = container.clock.now()
    ttl = timedelta(minutes=container.settings.token_ttl_minutes)
    container.db.transaction(
        lambda conn: conn.execute(
            auth_tokens.insert().values(
                token_hash=secret_hash(token),
                subject_kind=principal.kind.value,
                subject_id=principal.subject_id,
                role=principal.role.value,
                expires_at=now + ttl,
                created_at=now,
            )
        )
    )
    return IssuedToken(token, principal.role, int(ttl.total_seconds()))


_TOKEN_BY_HASH = select(auth_tokens).where(auth_tokens.c.token_hash == bindparam("token_hash", type_=String))


def authenticate_token(container: Container, token: str) -> Principal | None:
    """The token's principal, if it is known and not expired (one statement, built once: every
    authenticated request runs it)."""
    row = container.db.fetch_one(_TOKEN_BY_HASH, {"token_hash": secret_hash(token)})
    if row is None or as_utc(row.expires_at) < container.clock.now():
        return None
    return Principal(SubjectKind(row.subject_kind), row.subject_id, Role(row.role))


def authenticate_api_key(container: Container, key: str) -> Principal | None:
    row = container.db.read_one(
        lambda conn: conn.execute(select(api_keys).where(api_keys.c.key_hash == secret_hash(key))).first()
    )
    if row is None or not row.active:
        return None
    return Principal(SubjectKind.PARTNER, row.partner, Role(row.role))


def create_staff_user(container: Container, username: str, password: str, role: Role) -> bool:
    """Create a staff user unless the name is taken; returns whether one was created."""
    if not role.is_staff:
        raise ValueError(f"{role.value} is not a staff role")
    now = container.clock.now()

    def work(conn: Connection) -> bool:
        if conn.execute(select(staff_users.c.id).where(staff_users.c.username == username)).first():
            return False
        conn.execute(
            staff_users.insert().values(
                id=str(uuid.uuid4()),
                username=username,
                password_hash=_hasher.hash(password),
                role=role.value,
                active=True,
                failed_logins=0,
                created_at=now,
            )
        )
        return True

    return container.db.transaction(work)


def create_api_key(container: Container, partner: str, role: Role = Role.PARTNER) -> str:
    key = "phk_" + secrets.token_urlsafe(32)
    now = container.clock.now()
    container.db.transaction(
        lambda conn: conn.execute(
            api_keys.insert().values(
                key_hash=secret_hash(key), partner=partner, role=role.value, active=True, created_at=now
            )
        )
    )
    return key
