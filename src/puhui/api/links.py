"""OpenAPI links: how one response's ids feed the next request (OpenAPI 3.1 `links`).

FastAPI declares none, so a client (or Schemathesis' stateful tests) cannot tell that the `id` a
registration answers is the `borrower_id` of the borrower's consents, or that a signed contract's
`loan_id` is what the loan's schedule takes. `LINKS` says so, per response, and `add_links` writes
it into the generated schema once. A link names its target by method and path; an unknown source,
target or path parameter is an error when the schema is built, never a silently missing link.

Expressions are OpenAPI runtime expressions: `$response.body#/id` (a JSON pointer into the
response), `$request.path.loan_id` (the request's own path parameter), `$request.body#/phone`.
A link's `requestBody` fields are merged into the generated body (only those fields are set)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI


@dataclass(frozen=True, slots=True)
class Link:
    target: str  # "METHOD /path" of the operation the link leads to
    parameters: dict[str, str] = field(default_factory=dict)  # path parameter -> expression
    body: dict[str, str] | None = None  # request body fields -> expression
    replace_body: bool = False  # the body is exactly `body`, not merged into a generated one

    def definition(self, operation_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"operationId": operation_id}
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        if self.body is not None:
            out["requestBody"] = dict(self.body)
        if self.replace_body:
            out["x-schemathesis"] = {"merge_body": False}
        return out


def _borrower(expr: str) -> dict[str, Link]:
    """What a borrower's id opens."""
    one = {"borrower_id": expr}
    return {
        "GetBorrower": Link("GET /v1/borrowers/{borrower_id}", one),
        "GrantConsent": Link("POST /v1/borrowers/{borrower_id}/consents", one),
        "ListConsents": Link("GET /v1/borrowers/{borrower_id}/consents", one),
        "RevealIdentity": Link("GET /v1/borrowers/{borrower_id}/identity", one),
        "UploadData": Link("POST /v1/borrowers/{borrower_id}/data/{source}", one),
        "Apply": Link("POST /v1/applications", body=one),
        "PreApprove": Link("POST /v1/risk/decisions", body=one),
    }


def _application(expr: str) -> dict[str, Link]:
    one = {"application_id": expr}
    return {
        "GetApplication": Link("GET /v1/applications/{application_id}", one),
        "AcceptOffer": Link("POST /v1/applications/{application_id}/accept", one),
        "GetReview": Link("GET /v1/reviews/{application_id}", one),
        "ProposeTerms": Link("POST /v1/reviews/{application_id}/terms", one),
        "ApproveReview": Link("POST /v1/reviews/{application_id}/approve", one),
        "DeclineReview": Link("POST /v1/reviews/{application_id}/decline", one),
    }


def _contract(expr: str) -> dict[str, Link]:
    one = {"contract_id": expr}
    return {
        "GetContract": Link("GET /v1/contracts/{contract_id}", one),
        "GetDocument": Link("GET /v1/contracts/{contract_id}/document", one),
        "GetPdf": Link("GET /v1/contracts/{contract_id}/pdf", one),
        "VerifyContract": Link("GET /v1/contracts/{contract_id}/verify", one),
        "SignContract": Link("POST /v1/contracts/{contract_id}/sign", one),
    }


def _loan(expr: str) -> dict[str, Link]:
    one = {"loan_id": expr}
    return {
        "GetLoan": Link("GET /v1/loans/{loan_id}", one),
        "GetSchedule": Link("GET /v1/loans/{loan_id}/schedule", one),
        "GetTransactions": Link("GET /v1/loans/{loan_id}/transactions", one),
        "GetPayoff": Link("GET /v1/loans/{loan_id}/payoff", one),
        "Disburse": Link("POST /v1/loans/{loan_id}/disbursements", one),
        "Repay": Link("POST /v1/loans/{loan_id}/repayments", one),
        "Restructure": Link("POST /v1/loans/{loan_id}/restructure", one),
        "WriteOff": Link("POST /v1/loans/{loan_id}/write-off", one),
    }


def _decision(expr: str) -> dict[str, Link]:
    return {
        "GetDecision": Link("GET /v1/risk/decisions/{decision_id}", {"decision_id": expr}),
        "ReplayDecision": Link("POST /v1/risk/decisions/{decision_id}/replay", {"decision_id": expr}),
    }


def _product(expr: str) -> dict[str, Link]:
    return {
        "GetProduct": Link("GET /v1/products/{code}", {"code": expr}),
        "UpdateProduct": Link("PUT /v1/products/{code}", {"code": expr}),
        "Quote": Link("POST /v1/quotes", body={"product_code": expr}),
        "ApplyForProduct": Link("POST /v1/applications", body={"product_code": expr}),
    }


def _without(links: dict[str, Link], *names: str) -> dict[str, Link]:
    return {k: v for k, v in links.items() if k not in names}


# (source "METHOD /path", status) -> the links of that response
LINKS: dict[tuple[str, str], dict[str, Link]] = {
    ("POST /v1/auth/otp", "202"): {
        "SignIn": Link(
            "POST /v1/auth/token",
            body={"phone": "$request.body#/phone", "otp": "$response.body#/demo_otp"},
            replace_body=True,
        )
    },
    ("POST /v1/borrowers", "201"): _borrower("$response.body#/id"),
    ("GET /v1/borrowers", "200"): _borrower("$response.body#/0/id"),
    ("GET /v1/borrowers/{borrower_id}", "200"): _without(_borrower("$response.body#/id"), "GetBorrower"),
    ("POST /v1/borrowers/{borrower_id}/consents", "201"): {
        "RevokeConsent": Link(
            "DELETE /v1/borrowers/{borrower_id}/consents/{consent_id}",
            {"borrower_id": "$response.body#/borrower_id", "consent_id": "$response.body#/id"},
        ),
        "ListConsents": Link("GET /v1/borrowers/{borrower_id}/consents", {"borrower_id": "$request.path.borrower_id"}),
    },
    ("GET /v1/borrowers/{borrower_id}/consents", "200"): {
        "RevokeConsent": Link(
            "DELETE /v1/borrowers/{borrower_id}/consents/{consent_id}",
            {"borrower_id": "$request.path.borrower_id", "consent_id": "$response.body#/0/id"},
        )
    },
    ("GET /v1/products", "200"): _product("$response.body#/0/code"),
    ("GET /v1/products/{code}", "200"): _without(_product("$response.body#/code"), "GetProduct"),
    ("POST /v1/applications", "201"): {
        **_application("$response.body#/id"),
        "GetApplicant": Link("GET /v1/borrowers/{borrower_id}", {"borrower_id": "$response.body#/borrower_id"}),
        "GetApplicationDecision": Link(
            "GET /v1/risk/decisions/{decision_id}", {"decision_id": "$response.body#/decision/decision_id"}
        ),
    },
    ("GET /v1/applications/{application_id}", "200"): _without(_application("$response.body#/id"), "GetApplication"),
    ("GET /v1/reviews", "200"): _application("$response.body#/items/0/application_id"),
    ("GET /v1/reviews/{application_id}", "200"): _without(_application("$response.body#/application_id"), "GetReview"),
    ("POST /v1/reviews/{application_id}/terms", "201"): _without(
        _application("$request.path.application_id"), "ProposeTerms"
    ),
    ("POST /v1/reviews/{application_id}/approve", "201"): _without(
        _application("$request.path.application_id"), "ApproveReview"
    ),
    ("POST /v1/applications/{application_id}/accept", "201"): _contract("$response.body#/contract_id"),
    ("GET /v1/contracts/{contract_id}", "200"): {
        **_without(_contract("$response.body#/id"), "GetContract"),
        "GetSignedLoan": Link("GET /v1/loans/{loan_id}", {"loan_id": "$response.body#/loan_id"}),
    },
    ("POST /v1/contracts/{contract_id}/sign", "201"): _loan("$response.body#/loan_id"),
    ("GET /v1/loans", "200"): _loan("$response.body#/loans/0/id"),
    ("GET /v1/loans/{loan_id}", "200"): {
        **_without(_loan("$response.body#/id"), "GetLoan"),
        "GetBorrowerOfLoan": Link("GET /v1/borrowers/{borrower_id}", {"borrower_id": "$response.body#/borrower_id"}),
    },
    ("POST /v1/loans/{loan_id}/disbursements", "202"): _loan("$request.path.loan_id"),
    ("POST /v1/loans/{loan_id}/repayments", "201"): _loan("$request.path.loan_id"),
    ("POST /v1/loans/{loan_id}/restructure", "200"): _loan("$request.path.loan_id"),
    ("POST /v1/loans/{loan_id}/write-off", "200"): _loan("$request.path.loan_id"),
    ("POST /v1/risk/decisions", "201"): _decision("$response.body#/id"),
    ("GET /v1/risk/decisions/{decision_id}", "200"): {
        **_without(_decision("$response.body#/id"), "GetDecision"),
        "GetDecidedBorrower": Link("GET /v1/borrowers/{borrower_id}", {"borrower_id": "$response.body#/borrower_id"}),
    },
    ("GET /v1/risk/alerts", "200"): {
        "ResolveAlert": Link("POST /v1/risk/alerts/{alert_id}/resolve", {"alert_id": "$response.body#/alerts/0/id"})
    },
    ("POST /v1/eod", "200"): {"ListEodRuns": Link("GET /v1/eod")},
}


class LinkError(RuntimeError):
    pass


def add_links(spec: dict[str, Any]) -> dict[str, Any]:
    """Write `LINKS` into an OpenAPI document (in place; idempotent) and return it."""
    operations = {
        f"{method.upper()} {path}": operation
        for path, item in spec.get("paths", {}).items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    }
    for (source, status), links in LINKS.items():
        response = operations.get(source, {}).get("responses", {}).get(status)
        if response is None:
            raise LinkError(f"link source {source} -> {status} is not in the schema")
        written = response.setdefault("links", {})
        for name, link in links.items():
            target = operations.get(link.target)
            if target is None:
                raise LinkError(f"link {source} -> {name}: no operation {link.target}")
            declared = {p["name"] for p in target.get("parameters", []) if p.get("in") == "path"}
            if unknown := set(link.parameters) - declared:
                raise LinkError(f"link {source} -> {name}: {link.target} has no path parameter {sorted(unknown)}")
            written[name] = link.definition(target["operationId"])
    return spec


def install(app: FastAPI) -> None:
    """Serve /openapi.json (and /docs) with the links."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
