"""Sign-in: phone OTP for borrowers, username and password for staff."""

from __future__ import annotations

from fastapi import APIRouter, Request

from puhui.api.deps import ContainerDep, client_ip
from puhui.api.schemas.common import ERROR_RESPONSES, RATE_LIMITED
from puhui.api.schemas.people import OtpRequest, OtpResponse, TokenRequest, TokenResponse
from puhui.services import auth

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/otp", status_code=202, response_model=OtpResponse, responses={**ERROR_RESPONSES, **RATE_LIMITED})
def send_otp(body: OtpRequest, request: Request, container: ContainerDep) -> OtpResponse:
    sent = auth.request_otp(container, body.phone, client_ip(request))
    return OtpResponse(sent=True, expires_in=sent.expires_in_s, demo_otp=sent.demo_otp)


@router.post("/token", response_model=TokenResponse, responses={**ERROR_RESPONSES, **RATE_LIMITED})
def token(body: TokenRequest, container: ContainerDep) -> TokenResponse:
    if body.phone is not None and body.otp is not None:
        issued = auth.token_by_otp(container, body.phone, body.otp)
    else:
        assert body.username is not None and body.password is not None
        issued = auth.token_by_password(container, body.username, body.password)
    return TokenResponse(access_token=issued.access_token, role=issued.role.value, expires_in=issued.expires_in_s)
