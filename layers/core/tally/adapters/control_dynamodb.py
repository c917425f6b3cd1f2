"""DynamoDB control store for AWS mode: one on-demand table, string keys `pk`/`sk`.

Items:
    pk=SITES          sk=<site>                  created_at
    pk=KEYS           sk=<key id>                site, secret_hash, resources, scopes, created_at, revoked_at
    pk=SYNC#<site>    sk=<kind>#<resource>       latest_event_time (fixed-width UTC text), record_count
    pk=SEEN#<site>#<kind>#<resource>  sk=<identity digest, hex>   (one per distinct record counted)
    pk=COUNT#<site>   sk=<day>#<kind>            accepted, duplicates, rejected
    pk=BATCH#<id>     sk=BATCH                   outcome (JSON), expires_at (TTL)
    pk=BILLACCT       sk=<provider>#<account>    provider, billing_account_id, owner, claimed_at
    pk=LOCK#<name>    sk=LOCK                    holder, lease_until (epoch seconds)
    pk=PEOPLE#<collection>  sk=<id>              doc (JSON; tally.people.store, tally.alerts.store
                                                 collections alert_rules, alerts, alert_open); removed: no
                                                 doc; expires_at (TTL) when the document expires

Keys stored before scopes existed have no `scopes` attribute and read as unscoped (see ApiKey).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tally.domain.control import (
    ApiKey,
    BatchOutcome,
    BillingAccount,
    ControlError,
    IngestCount,
    Site,
    SyncState,
    parse_utc_text,
    utc_text,
)
from tally.domain.identity_keys import digest_of
from tally.domain.ports import StagedSync
from tally.domain.staged_sync import ClaimThenAccount

BATCH_TTL_SECONDS = 90 * 86_400
#: The table's TimeToLiveSpecification attribute (template.yaml): batch outcomes, expiring documents.
TTL_ATTRIBUTE = "expires_at"
# A transaction holds at most 100 actions: this many identity puts and the count update.
SEEN_PER_TRANSACTION = 99
TRANSACTION_ATTEMPTS = 8
# Every count transaction of a resource updates the same item, so DynamoDB would cancel all but one
# of those running at once (TransactionConflict): threads of one process take turns instead. (moto's
# server, which the tests use, also mishandles concurrent transactions.)
_COUNT_LOCK = threading.Lock()


def _expired(item: dict[str, Any]) -> bool:
    """Past its TTL: DynamoDB deletes expired items only eventually (within days), so reads skip them."""
    ttl = item.get(TTL_ATTRIBUTE)
    return ttl is not None and float(ttl["N"]) <= time.time()


def _conditional_failed(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class DynamoControlStore:
    def __init__(self, table: str, region: str, endpoint_url: str | None = None) -> None:
        self._table = table
        self._db = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return dict(item) if item else None

    def _query(self, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        if sk_prefix:  # DynamoDB refuses an empty key value, even as a prefix
            kwargs["KeyConditionExpression"] += " AND begins_with(sk, :sk)"
            kwargs["ExpressionAttributeValues"][":sk"] = {"S": sk_prefix}
        while True:
            page = self._db.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def add_site(self, site: Site) -> None:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": "SITES"},
                    "sk": {"S": site.name},
                    "created_at": {"S": utc_text(site.created_at)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ControlError(f"site {site.name!r} exists already") from exc
            raise

    def get_site(self, name: str) -> Site | None:
        item = self._get("SITES", name)
        return Site(name, parse_utc_text(item["created_at"]["S"])) if item else None  # type: ignore[arg-type]

    def list_sites(self) -> list[Site]:
        return [Site(i["sk"]["S"], parse_utc_text(i["created_at"]["S"])) for i in self._query("SITES")]  # type: ignore[arg-type]

    @staticmethod
    def _key(item: dict[str, Any]) -> ApiKey:
        revoked = item.get("revoked_at", {}).get("S")
        return ApiKey(
            key_id=item["sk"]["S"],
            site=item["site"]["S"],
            secret_hash=item["secret_hash"]["S"],
            created_at=parse_utc_text(item["created_at"]["S"]),  # type: ignore[arg-type]
            resources=tuple(json.loads(item["resources"]["S"])),
            revoked_at=parse_utc_text(revoked),
            scopes=tuple(json.loads(item["scopes"]["S"])) if "scopes" in item else (),
        )

    def add_key(self, key: ApiKey) -> None:
        if self.get_site(key.site) is None:
            raise ControlError(f"no site named {key.site!r}")
        item = {
            "pk": {"S": "KEYS"},
            "sk": {"S": key.key_id},
            "site": {"S": key.site},
            "secret_hash": {"S": key.secret_hash},
            "resources": {"S": json.dumps(list(key.resources))},
            "created_at": {"S": utc_text(key.created_at)},
        }
        if key.scopes:
            item["scopes"] = {"S": json.dumps(list(key.scopes))}
        self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get_key(self, key_id: str) -> ApiKey | None:
        item = self._get("KEYS", key_id)
        return self._key(item) if item else None

    def list_keys(self, site: str | None = None) -> list[ApiKey]:
        keys = [self._key(i) for i in self._query("KEYS")]
        return sorted(
            (k for k in keys if site is None or k.site == site), key=lambda k: (k.site, k.created_at)
        )

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": "KEYS"}, "sk": {"S": key_id}},
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :at)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":at": {"S": utc_text(at)}},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def upgrade_key_hash(self, key_id: str, old_hash: str, new_hash: str) -> bool:
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": "KEYS"}, "sk": {"S": key_id}},
                UpdateExpression="SET secret_hash = :new",
                ConditionExpression="secret_hash = :old",
                ExpressionAttributeValues={":new": {"S": new_hash}, ":old": {"S": old_hash}},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def advance_sync(
        self, site: str, kind: str, resource: str, latest: datetime, identities: Sequence[bytes]
    ) -> None:
        key = {"pk": {"S": f"SYNC#{site}"}, "sk": {"S": f"{kind}#{resource}"}}
        seen = f"SEEN#{site}#{kind}#{resource}"
        # The digest alone: a hashed store gains nothing from the day prefix, and its items predate it.
        digests = sorted({digest_of(identity).hex() for identity in identities})
        for start in range(0, len(digests), SEEN_PER_TRANSACTION):
            self._count_new(key, seen, digests[start : start + SEEN_PER_TRANSACTION])
        try:
            # Conditional: concurrent writers can only ever move the mark forward.
            self._db.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET latest_event_time = :t",
                ConditionExpression="attribute_not_exists(latest_event_time) OR latest_event_time < :t",
                ExpressionAttributeValues={":t": {"S": utc_text(latest)}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def advance_sync_many(
        self, site: str, kind: str, updates: Sequence[tuple[str, datetime, Sequence[bytes]]]
    ) -> None:
        # Each resource has its own items and conditional transactions: nothing to share.
        for resource, latest, identities in updates:
            self.advance_sync(site, kind, resource, latest, identities)

    def stage_sync(
        self, site: str, kind: str, updates: Sequence[tuple[str, datetime, Sequence[bytes]]]
    ) -> StagedSync:
        return ClaimThenAccount(self, site, kind, updates)

    def _count_new(self, key: dict[str, Any], seen: str, digests: list[str]) -> None:
        """Store the identities not stored yet and add their number to the count, atomically.

        Each put is conditional on the identity being new; when some are not, the transaction is
        cancelled as a whole and tried again without them, so the count is exact under concurrency.
        """
        pending = list(digests)
        for attempt in range(TRANSACTION_ATTEMPTS):
            if not pending:
                return
            actions: list[Any] = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {"pk": {"S": seen}, "sk": {"S": digest}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
                for digest in pending
            ]
            actions.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": key,
                        "UpdateExpression": "ADD record_count :n",
                        "ExpressionAttributeValues": {":n": {"N": str(len(pending))}},
                    }
                }
            )
            try:
                with _COUNT_LOCK:
                    self._db.transact_write_items(TransactItems=actions)
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []
                known = {
                    pending[i]
                    for i, reason in enumerate(reasons[: len(pending)])
                    if reason.get("Code") == "ConditionalCheckFailed"
                }
                if known:
                    pending = [d for d in pending if d not in known]
                else:
                    # A conflict with a concurrent transaction on the same count: wait, try again.
                    time.sleep(random.uniform(0, 0.05 * 2**attempt))
        raise RuntimeError(f"could not count new records for {key['sk']['S']}: too many conflicts")

    def get_sync(self, site: str, kind: str, resource: str) -> SyncState:
        item = self._get(f"SYNC#{site}", f"{kind}#{resource}")
        if item is None:
            return SyncState(site, kind, resource, None, 0)
        latest = parse_utc_text(item.get("latest_event_time", {}).get("S"))
        return SyncState(site, kind, resource, latest, int(item.get("record_count", {}).get("N", "0")))

    def add_counts(self, count: IngestCount) -> None:
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"COUNT#{count.site}"}, "sk": {"S": f"{count.day.isoformat()}#{count.kind}"}},
            UpdateExpression="ADD accepted :a, duplicates :d, rejected :r",
            ExpressionAttributeValues={
                ":a": {"N": str(count.accepted)},
                ":d": {"N": str(count.duplicates)},
                ":r": {"N": str(count.rejected)},
            },
        )

    def get_counts(self, site: str, since: date | None = None) -> list[IngestCount]:
        out = []
        for item in self._query(f"COUNT#{site}"):
            day_text, _, kind = item["sk"]["S"].partition("#")
            day = date.fromisoformat(day_text)
            if since is None or day >= since:
                out.append(
                    IngestCount(
                        site,
                        day,
                        kind,
                        int(item.get("accepted", {}).get("N", "0")),
                        int(item.get("duplicates", {}).get("N", "0")),
                        int(item.get("rejected", {}).get("N", "0")),
                    )
                )
        return sorted(out, key=lambda c: (c.day, c.kind))

    def claim_batch(self, outcome: BatchOutcome) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"BATCH#{outcome.batch_id}"},
                    "sk": {"S": "BATCH"},
                    "outcome": {"S": json.dumps(outcome.__dict__)},
                    TTL_ATTRIBUTE: {"N": str(int(time.time()) + BATCH_TTL_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def get_batch(self, batch_id: str) -> BatchOutcome | None:
        item = self._get(f"BATCH#{batch_id}", "BATCH")
        return BatchOutcome(**json.loads(item["outcome"]["S"])) if item else None

    @staticmethod
    def _account(item: dict[str, Any]) -> BillingAccount:
        return BillingAccount(
            item["provider"]["S"],
            item["billing_account_id"]["S"],
            item["owner"]["S"],
            parse_utc_text(item["claimed_at"]["S"]),  # type: ignore[arg-type]
        )

    def claim_billing_account(self, account: BillingAccount) -> BillingAccount:
        sk = f"{account.provider}#{account.billing_account_id}"
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": "BILLACCT"},
                    "sk": {"S": sk},
                    "provider": {"S": account.provider},
                    "billing_account_id": {"S": account.billing_account_id},
                    "owner": {"S": account.owner},
                    "claimed_at": {"S": utc_text(account.claimed_at)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            stored = self._get("BILLACCT", sk)
            if stored is None:  # cannot happen: the item is never deleted
                raise
            return self._account(stored)
        return account

    def get_billing_account(self, provider: str, billing_account_id: str) -> BillingAccount | None:
        item = self._get("BILLACCT", f"{provider}#{billing_account_id}")
        return self._account(item) if item else None

    def list_billing_accounts(self, owner: str | None = None) -> list[BillingAccount]:
        accounts = [self._account(i) for i in self._query("BILLACCT")]
        return sorted(
            (a for a in accounts if owner is None or a.owner == owner),
            key=lambda a: (a.provider, a.billing_account_id),
        )

    def acquire_lock(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        stamp = now.timestamp()
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"LOCK#{name}"},
                    "sk": {"S": "LOCK"},
                    "holder": {"S": holder},
                    "lease_until": {"N": repr(stamp + ttl_seconds)},
                },
                ConditionExpression="attribute_not_exists(holder) OR lease_until <= :now OR holder = :me",
                ExpressionAttributeValues={":now": {"N": repr(stamp)}, ":me": {"S": holder}},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def release_lock(self, name: str, holder: str) -> None:
        # An update, not a delete: the API's role may update items but not delete them.
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"LOCK#{name}"}, "sk": {"S": "LOCK"}},
                UpdateExpression="REMOVE holder, lease_until",
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": holder}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    # -- people documents (tally.people.store) ------------------------------------------------------
    # Deleting is an update that removes the document (the API's role may not delete items); the
    # audit collection is written create-only and never updated or emptied.

    def put_doc(
        self,
        collection: str,
        doc_id: str,
        doc: dict[str, Any],
        create_only: bool = False,
        expires_at: datetime | None = None,
    ) -> bool:
        item = {"pk": {"S": f"PEOPLE#{collection}"}, "sk": {"S": doc_id}, "doc": {"S": json.dumps(doc)}}
        if expires_at is not None:
            # The table's TTL attribute (epoch seconds): DynamoDB deletes the item some time after.
            item[TTL_ATTRIBUTE] = {"N": str(math.ceil(expires_at.timestamp()))}
        if collection == "audit" and not create_only:
            raise ControlError("the audit log is append-only")
        try:
            if create_only:
                # An expired document not yet deleted by DynamoDB is no obstacle.
                self._db.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(doc) OR #ttl <= :now",
                    ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                    ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
                )
            else:
                self._db.put_item(TableName=self._table, Item=item)
        except ClientError as exc:
            if create_only and _conditional_failed(exc):
                return False
            raise
        return True

    def get_doc(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        item = self._get(f"PEOPLE#{collection}", doc_id)
        if item is None or "doc" not in item or _expired(item):
            return None
        return {**json.loads(item["doc"]["S"]), "_id": doc_id}

    def list_docs(self, collection: str) -> list[dict[str, Any]]:
        return [
            {**json.loads(i["doc"]["S"]), "_id": i["sk"]["S"]}
            for i in self._query(f"PEOPLE#{collection}")
            if "doc" in i and not _expired(i)
        ]

    def delete_doc(self, collection: str, doc_id: str) -> bool:
        if collection == "audit":
            raise ControlError("the audit log is append-only")
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"PEOPLE#{collection}"}, "sk": {"S": doc_id}},
                UpdateExpression="REMOVE doc",
                ConditionExpression="attribute_exists(doc)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True


def create_table(table: str, region: str, endpoint_url: str | None = None) -> None:
    """Create the control table (tests and `tally` bootstrap; SAM creates it in a deployment)."""
    db = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
    db.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
