"""Keep the shop's catalog in sync from spreadsheets, through the catalog API.

A small client a merchant can copy: it needs only Python and ``requests``, and an API key with the
``catalog`` scope (admin › Merchant API keys).

    python examples/catalog_sync.py --base https://shop.example.com --key kp_... products products.csv
    python examples/catalog_sync.py --base https://shop.example.com --key kp_... stock stock.csv

``products.csv`` has one line per thing a buyer can pick (a leaf)::

    product_id,product_name,price,size,color,add_price,stock,sku
    TEE-1,기본 티셔츠,15000,S,빨강,0,10,TEE-1-S-RED

and becomes, per product, a related chain "사이즈 → 색상" (option T1's own format: each size
leads to its own colour sub-group), PUT as a whole (options keep their identity across syncs).
``stock.csv`` (``sku,stock``) sets the units available per SKU, 1,000 rows per PATCH. Every
write carries an ``Idempotency-Key`` made from its content, so a retried run (a timeout, a crash)
never applies anything twice.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections import OrderedDict

import requests

CHUNK = 1000


class Api:
    def __init__(self, base: str, key: str, timeout: float = 60.0):
        self.base = base.rstrip("/") + "/api/v1/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.timeout = timeout

    def write(self, method: str, path: str, body: dict) -> requests.Response:
        data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
        key = hashlib.sha256(method.encode() + path.encode() + data).hexdigest()  # same content, same key
        for attempt in range(3):  # retried safely: the server replays an answer it already gave
            try:
                return self.session.request(method, self.base + path, data=data, timeout=self.timeout,
                                            headers={"Content-Type": "application/json", "Idempotency-Key": key})  # fmt: skip
            except requests.ConnectionError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def product_trees(rows: list[dict]) -> dict[str, dict]:
    """CSV lines → one T1 OptionResponse per product (a size → colour related chain)."""
    products: dict[str, dict] = OrderedDict()
    for row in rows:
        pid = row["product_id"].strip()
        product = products.setdefault(pid, {
            "id": pid, "name": row["product_name"].strip(), "price": int(row["price"]),
            "sizes": OrderedDict(), "on_sale": True,
        })  # fmt: skip
        colours = product["sizes"].setdefault(row["size"].strip(), [])
        colours.append({
            "id": row["color"].strip(), "value": row["color"].strip(), "add_price": int(row.get("add_price") or 0),
            "stock": int(row["stock"]), "extra": row["sku"].strip(),
        })  # fmt: skip
    trees = {}
    for pid, p in products.items():
        sizes = p.pop("sizes")
        size_options = [
            {"id": size, "value": size, "relate_option_groups": [{"group_id": "색상", "sub_group_id": f"{size}:색상"}]}
            for size in sizes
        ]
        trees[pid] = p | {"option_groups": [
            {"id": "사이즈", "name": "사이즈", "type": "SELECT", "option_sub_groups": [{"id": "사이즈", "options": size_options}]},
            {"id": "색상", "name": "색상", "type": "SELECT",
             "option_sub_groups": [{"id": f"{size}:색상", "options": colours} for size, colours in sizes.items()]},
        ]}  # fmt: skip
    return trees


def sync_products(api: Api, path: str, out=sys.stdout) -> int:
    with open(path, newline="", encoding="utf-8-sig") as f:
        trees = product_trees(list(csv.DictReader(f)))
    failed = 0
    for pid, tree in trees.items():
        r = api.write("PUT", f"products/{requests.utils.quote(pid, safe=':')}", tree)
        leaves = sum(len(s["options"]) for s in tree["option_groups"][1]["option_sub_groups"])
        if r.headers.get("Idempotent-Replayed") == "true":
            print(f"{pid}: already sent, unchanged (the server replayed its answer {r.status_code})", file=out)
        elif r.status_code in (200, 201):
            print(f"{pid}: {'created' if r.status_code == 201 else 'updated'} ({leaves} options)", file=out)
        else:
            failed += 1
            body = r.json()
            print(f"{pid}: refused {r.status_code}: {body.get('message')}", file=out)
            for problem in body.get("problems", []):
                print(f"  - {problem}", file=out)
    return failed


def sync_stock(api: Api, path: str, out=sys.stdout) -> int:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [{"sku": r["sku"].strip(), "set": int(r["stock"])} for r in csv.DictReader(f)]
    failed = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        r = api.write("PATCH", "stock", {"rows": chunk})
        if r.status_code == 200:
            print(f"stock rows {start + 1}–{start + len(chunk)}: set", file=out)
            continue
        failed += 1
        body = r.json()
        print(f"stock rows {start + 1}–{start + len(chunk)}: refused {r.status_code}: {body.get('message')}", file=out)
        for result in body.get("rows", []):
            if not result["ok"]:
                print(f"  - line {start + result['index'] + 2} ({chunk[result['index']]['sku']}): {result['error']}", file=out)
    return failed


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the shop's https origin")
    parser.add_argument("--key", required=True, help="a merchant API key with the catalog scope")
    parser.add_argument("what", choices=["products", "stock"])
    parser.add_argument("csv")
    args = parser.parse_args(argv)
    api = Api(args.base, args.key)
    failed = (sync_products if args.what == "products" else sync_stock)(api, args.csv, out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
