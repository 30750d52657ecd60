"""The e-contract as PDF: rendered by WeasyPrint from the stored HTML, Chinese set in Noto Sans CJK,
with the APR, every fee and the whole schedule readable in its text; someone else's is 404."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import text

from puhui.adapters.db.database import Database
from tests.e2e.test_contracts_api import _approved
from tests.helpers import borrower_token, phone


@pytest.fixture
def client(demo_client: TestClient) -> TestClient:
    return demo_client


def _contract(client: TestClient, n: int) -> tuple[dict[str, str], str]:
    headers, application_id = _approved(client, n)
    accepted = client.post(f"/v1/applications/{application_id}/accept", headers=headers)
    assert accepted.status_code == 201, accepted.text
    return headers, accepted.json()["contract_id"]


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _fonts(reader: PdfReader) -> set[str]:
    names: set[str] = set()
    for page in reader.pages:
        for font in page["/Resources"].get_object().get("/Font", {}).values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def test_the_pdf_carries_the_apr_fees_and_schedule(client: TestClient) -> None:
    headers, contract_id = _contract(client, 11)
    response = client.get(f"/v1/contracts/{contract_id}/pdf", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    content = _text(response.content)
    terms = client.get(f"/v1/contracts/{contract_id}", headers=headers).json()["terms"]
    assert "年化利率" in content and "借款合同" in content and "Loan contract" in content
    assert f"{float(terms['apr']) * 100:.2f}%" in content
    assert (
        f"¥{terms['amount']}" in content
        and f"¥{terms['upfront_fee']}" in content
        and f"¥{terms['total_fees']}" in content
    )
    assert len(terms["schedule"]) == 12
    for installment in terms["schedule"]:
        assert installment["due_date"] in content
        assert installment["payment"] in content
    assert "Page 1 of" in content  # the page footer from @page
    assert phone(11) not in content


def test_the_pdf_embeds_a_noto_cjk_font(client: TestClient) -> None:
    headers, contract_id = _contract(client, 12)
    reader = PdfReader(io.BytesIO(client.get(f"/v1/contracts/{contract_id}/pdf", headers=headers).content))
    fonts = _fonts(reader)
    assert any("Noto" in name and "CJK" in name for name in fonts), fonts
    box = reader.pages[0].mediabox  # A4: 210 × 297 mm in points
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_the_pdf_is_the_stored_document_which_verify_checks(client: TestClient, db: Database) -> None:
    headers, contract_id = _contract(client, 13)
    assert "12 个月" in _text(client.get(f"/v1/contracts/{contract_id}/pdf", headers=headers).content)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE contracts SET document_html = replace(document_html, '12 个月', '24 个月')"))
    # the PDF shows whatever HTML is stored; /verify is what tells that HTML from the signed one
    assert "24 个月" in _text(client.get(f"/v1/contracts/{contract_id}/pdf", headers=headers).content)
    assert client.get(f"/v1/contracts/{contract_id}/verify", headers=headers).json()["valid"] is False


def test_someone_elses_contract_pdf_is_not_found(client: TestClient) -> None:
    _, contract_id = _contract(client, 14)
    other = borrower_token(client, phone(15))
    response = client.get(f"/v1/contracts/{contract_id}/pdf", headers=other)
    assert response.status_code == 404 and response.json()["error"]["code"]
    assert client.get("/v1/contracts/no-such-contract/pdf", headers=other).status_code == 404
