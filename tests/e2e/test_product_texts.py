"""A product's texts in both languages: the Chinese portal and console show the Chinese name and
description, the English ones the English; an admin changes the Chinese description on the
console or over the API and it shows at once; a definition stored before products had a Chinese
description (an older version, as a loan keeps it) still loads, and its pages show the English."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from puhui.adapters.db import product_repository as repo
from puhui.adapters.db.tables import product_versions, products
from puhui.bootstrap import Container, prepare, seed_demo_staff
from puhui.domain.products import LoanProduct, parse_product
from puhui.services import catalogue
from puhui.web import console_products
from tests.helpers import staff_token

CODE = "PH-FLAT"
NEW_ZH = "每月按原始本金计息，适合购买家电、装修等个人消费。"


@pytest.fixture
def client(demo_client: TestClient) -> TestClient:
    seed_demo_staff(demo_client.app.state.container)  # type: ignore[attr-defined]
    return demo_client


def _container(client: TestClient) -> Container:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return container


def _shipped() -> dict[str, LoanProduct]:
    loaded = (parse_product(catalogue.read_definition(path)) for path in catalogue.product_files())
    return {p.code: p for p in loaded}


def _page(client: TestClient, url: str, lang: str) -> str:
    got = client.get(f"{url}{'&' if '?' in url else '?'}lang={lang}")
    assert got.status_code == 200, got.text
    return html.unescape(got.text)


def _signed_in_admin(client: TestClient) -> None:
    signed = client.post(
        "/console/login", data={"username": "admin", "password": "demo", "next": "/console"}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text


def _form(client: TestClient, **changes: str) -> dict[str, str]:
    found = _container(client).db.read(lambda c: repo.current(c, CODE))
    product, _definition = repo.parsed(found.definition_json)
    return {**console_products.values(product, bool(found.active)), **changes}


def _to_the_old_shape(client: TestClient) -> str:
    """PH-FLAT as a database from before the Chinese descriptions holds it: the same definition
    without `description_zh`, as the product's row and its one (catalogue) version."""
    container = _container(client)
    row = container.db.read(lambda c: repo.current(c, CODE))
    old = json.loads(row.definition_json)
    del old["description_zh"]
    text = json.dumps(old, sort_keys=True, ensure_ascii=False)

    def work(conn):  # type: ignore[no-untyped-def]
        conn.execute(update(products).where(products.c.code == CODE).values(definition_json=text))
        conn.execute(
            update(product_versions)
            .where(product_versions.c.code == CODE, product_versions.c.version == row.version)
            .values(definition_json=text)
        )

    container.db.transaction(work)
    return text


def test_the_chinese_portal_shows_every_product_in_chinese_and_the_english_one_in_english(
    client: TestClient,
) -> None:
    shipped = _shipped()
    zh, en = _page(client, "/", "zh"), _page(client, "/", "en")
    for p in shipped.values():
        assert p.description_zh and p.description_zh in zh, p.code
        assert p.description not in zh, p.code  # the English description was all a Chinese page had
        assert p.name in zh and f"<h3>{p.name_en}</h3>" not in zh
        assert p.description in en and p.description_zh not in en, p.code
        assert f"<h3>{p.name_en}</h3>" in en
    calculator = _page(client, "/calculator?product=PH-IO", "zh")
    assert shipped["PH-IO"].description_zh in calculator and shipped["PH-IO"].description not in calculator


def test_the_console_lists_products_in_the_pages_language(client: TestClient) -> None:
    _signed_in_admin(client)
    shipped = _shipped()
    zh, en = _page(client, "/console/products", "zh"), _page(client, "/console/products", "en")
    for p in shipped.values():
        assert f"<p data-description>{p.description_zh}</p>" in zh, p.code
        assert p.description not in zh, p.code
        assert f"<p data-description>{p.description}</p>" in en, p.code
    form = _page(client, f"/console/products/{CODE}", "zh")  # both languages in the edit form
    for key in ("description_zh", "description"):
        value = getattr(shipped[CODE], key)
        assert re.search(rf'<textarea id="f-{key}" name="{key}"[^>]*>{re.escape(value)}</textarea>', form), key
    assert "简介（中文）" in form and "简介（英文）" in form


def test_an_admin_changes_the_chinese_description_on_the_console_and_it_shows(client: TestClient) -> None:
    _signed_in_admin(client)
    saved = client.post(
        f"/console/products/{CODE}?lang=zh", data=_form(client, description_zh=NEW_ZH), follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    assert NEW_ZH in _page(client, "/console/products", "zh")
    assert NEW_ZH in _page(client, "/", "zh") and NEW_ZH in _page(client, f"/calculator?product={CODE}", "zh")
    english = _shipped()[CODE].description
    assert english in _page(client, "/", "en") and NEW_ZH not in _page(client, "/", "en")
    body = client.get(f"/v1/products/{CODE}").json()
    assert (body["description_zh"], body["description"]) == (NEW_ZH, english)
    history = _page(client, f"/console/products/{CODE}", "zh")  # the change in the product's versions
    assert re.search(rf'<span class="mono">description_zh</span>: [^<]+ → {re.escape(NEW_ZH)}', history)


def test_a_description_too_long_is_refused_beside_its_field_in_the_pages_language(client: TestClient) -> None:
    _signed_in_admin(client)
    before = client.get(f"/v1/products/{CODE}").json()
    for lang, message in (("zh", "最多 500 个字符"), ("en", "must be at most 500 characters")):
        refused = client.post(f"/console/products/{CODE}?lang={lang}", data=_form(client, description_zh="长" * 501))
        assert refused.status_code == 422, refused.text
        page = html.unescape(refused.text)
        assert f'<p class="field-error" id="e-description_zh">{message}</p>' in page, lang
        assert re.search(r'<div class="field wide invalid" data-field="description_zh">', page)
        assert "长" * 501 in page  # what was typed stays in the form
        assert 'id="e-description"' not in page
    assert client.get(f"/v1/products/{CODE}").json() == before


def test_the_api_changes_both_descriptions_and_an_empty_one_falls_back_to_the_other(client: TestClient) -> None:
    risk = staff_token(client, "risk")
    changed = client.put(f"/v1/products/{CODE}", json={"description_zh": NEW_ZH}, headers=risk)
    assert changed.status_code == 200, changed.text
    assert changed.json()["product"]["description_zh"] == NEW_ZH
    assert [c["field"] for c in changed.json()["changes"]] == ["description_zh"]
    english = "Interest on the original amount every month."
    assert client.put(f"/v1/products/{CODE}", json={"description": english}, headers=risk).status_code == 200
    removed = client.put(f"/v1/products/{CODE}", json={"description_zh": ""}, headers=risk)
    assert removed.json()["product"]["description_zh"] == ""
    assert english in _page(client, "/", "zh")  # no Chinese text left: the English one
    too_long = client.put(f"/v1/products/{CODE}", json={"description": "x" * 501}, headers=risk)
    assert too_long.status_code == 422


def test_a_definition_stored_without_the_chinese_description_still_loads(client: TestClient) -> None:
    old_text = _to_the_old_shape(client)
    container = _container(client)
    body = client.get(f"/v1/products/{CODE}")
    assert body.status_code == 200, body.text
    english = _shipped()[CODE].description
    assert (body.json()["description"], body.json()["description_zh"]) == (english, "")
    assert english in _page(client, "/", "zh")  # the text it has, on the Chinese page too
    _signed_in_admin(client)
    assert f"<p data-description>{english}</p>" in _page(client, "/console/products", "zh")
    assert '<textarea id="f-description_zh" name="description_zh" rows="3"></textarea>' in _page(
        client, f"/console/products/{CODE}", "zh"
    )
    # the product files loaded again (a start-up) give it its Chinese text as a new version;
    # the old version, which loans signed under it keep, still reads
    prepare(container)
    assert client.get(f"/v1/products/{CODE}").json()["description_zh"] == _shipped()[CODE].description_zh
    versions = container.db.read(
        lambda c: c.execute(
            select(product_versions.c.version, product_versions.c.definition_json).where(
                product_versions.c.code == CODE
            )
        ).all()
    )
    first = min(versions)
    assert first.definition_json == old_text and len(versions) == 2
    kept = container.db.read(lambda c: repo.get_version(c, CODE, first.version))
    assert kept is not None and (kept.description, kept.description_zh) == (english, "")
