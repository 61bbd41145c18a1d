"""The OpenAPI document of the channel API, served at ``/api/v1/openapi.json``.

A machine contract, so it is written in English and not translated. It states
what the views and ``campaigns.runtime.engine`` do: request bodies as the engine
accepts them (unknown fields are ignored, so allowed), every answer with its
exact fields, and each error code an endpoint can return under its status.
``tests/campaigns/test_api_contract.py`` checks the document against the views.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _

from campaigns.api import views
from campaigns.kinds import _common as common

# Campaign codes and customer references: audiences.models.CODE_VALIDATOR.
CODE_PATTERN = r"^[A-Za-z0-9_.-]+$"
DATE_TIME = {"type": "string", "format": "date-time"}
MONEY_STRING = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"

_ERRORS_PER_STATUS = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not eligible",
    404: "Unknown",
    409: "Conflict: limit reached, sold out or already done",
    410: "The campaign is not live",
    429: "Rate limited",
    503: "Briefly unavailable",
}

_ERROR_CODES = {
    "malformed": "the body is not a JSON object, a field is missing or has the wrong type or length, the "
    "body is too large, or the Idempotency-Key is not 1 to 120 printable characters",
    "unsigned": "X-Channel-Key, X-Timestamp or X-Signature is missing",
    "bad_timestamp": "X-Timestamp is not an integer",
    "stale_timestamp": f"X-Timestamp is more than {settings.CAMPAIGNS_API_MAX_SKEW} seconds from the server's clock",
    "unknown_key": "no active channel has this X-Channel-Key",
    "bad_signature": "X-Signature does not match the request under the channel's secret "
    "(or its previous secret during the grace period after a rotation)",
    "not_in_audience": "the customer is not in the campaign's frozen audience",
    "control_group": "the customer is in the campaign's control group (recorded as held out, not served)",
    "excluded": "the customer carries one of the campaign's excluded tags",
    "channel_not_enabled": "the campaign is not published on the calling channel's kind",
    "action_not_supported": "the campaign's kind does not offer this action",
    "self_referral": "the customer tried to accept their own invitation",
    "existing_customer": "the customer opened their account before the invitation was made",
    "unknown_campaign": "no campaign has this code",
    "unknown_customer": "no customer has this reference",
    "unknown_invite": "no invite has this code",
    "unknown_item": "the flash sale sells no item with this key",
    "not_found": "no endpoint has this path",
    "method_not_allowed": "the endpoint does not take this HTTP method",
    "limit_reached": "the customer has reached the campaign's limit (rewards, draws)",
    "sold_out": "the item or prize has no stock left",
    "budget_exhausted": "the campaign's budget (total or today's) is used up",
    "already_referred": "the customer already accepted an invitation in this campaign",
    "idempotency_conflict": "this Idempotency-Key (or event_id) was used before with another body or endpoint",
    "not_live": "the campaign was never approved or is not being served",
    "not_started": "the campaign's window has not started",
    "paused": "the campaign is paused",
    "ended": "the campaign's window is over or it was ended",
    "rate_limited": "the channel or this customer sent too many requests this minute",
    "unavailable": "the runtime is reloading the campaign or its store is unreachable; retry",
}

AUTH_CODES = ("unsigned", "bad_timestamp", "stale_timestamp", "unknown_key", "bad_signature")
LIVE_CODES = ("not_live", "not_started", "paused", "ended")
ELIGIBILITY_CODES = ("action_not_supported", "channel_not_enabled", "control_group", "not_in_audience", "excluded")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _retry_after(description: str) -> dict[str, Any]:
    return {
        "Retry-After": {
            "description": description,
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 60},
        }
    }


def _error(status: int, *codes: str) -> dict[str, Any]:
    """A response with the shared Error body whose ``code`` is one of ``codes``."""
    lines = "\n".join(f"- `{code}`: {_ERROR_CODES[code]}" for code in codes)
    response: dict[str, Any] = {
        "description": f"{_ERRORS_PER_STATUS[status]}. `error.code` is one of:\n\n{lines}",
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        _ref("Error"),
                        {"properties": {"error": {"properties": {"code": {"enum": list(codes)}}}}},
                    ]
                }
            }
        },
    }
    if status == 429:
        response["headers"] = _retry_after("Seconds until the next minute, when the limits reset.")
    elif status == 503:
        response["headers"] = _retry_after("Seconds to wait before retrying.")
    return response


def _ok(description: str, schema: str, *, replay: bool) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
    }
    if replay:
        response["headers"] = {
            "Idempotent-Replay": {
                "description": "Present (`true`) when this is the stored first answer to the same "
                "Idempotency-Key and body: nothing was changed by this request.",
                "schema": {"type": "string", "enum": ["true"]},
            }
        }
    return response


def _operation(
    operation_id: str, tag: str, summary: str, description: str, ok: tuple[int, str, str], *,
    body: str | None = None, errors: dict[int, tuple[str, ...]],
) -> dict[str, Any]:
    """One signed operation; every one also answers 401, 429 and 503."""
    status, ok_description, ok_schema = ok
    responses: dict[str, Any] = {str(status): _ok(ok_description, ok_schema, replay=body is not None)}
    everywhere = {401: AUTH_CODES, 429: ("rate_limited",), 503: ("unavailable",)}
    merged = {**everywhere, **errors}
    for code in sorted(merged):
        responses[str(code)] = _error(code, *merged[code])
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "responses": responses,
    }
    if body is not None:
        operation["parameters"] = [{"$ref": "#/components/parameters/IdempotencyKey"}]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return operation


def _path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name, "in": "path", "required": True, "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": CODE_PATTERN},
    }


_CUSTOMER_REF = {
    "type": "string", "minLength": 1, "maxLength": 40, "pattern": CODE_PATTERN,
    "description": "The customer's reference (customer number) in the bank's systems.",
    "examples": ["C000123"],
}
_ACTIONS = ["view", "join", "draw", "claim", "invite", "referral", "event"]
_KINDS = ["event", "lottery", "flash_sale", "referral", "task_chain"]
_PRIZE_KINDS = ["points", "coupon", "cash", "rate_coupon", "fee_waiver", "gift"]
_GRANT_STATUSES = ["queued", "pending", "dispatching", "delivered", "failed", "revoked"]
_EVENT_OUTCOMES = [
    "not_matched", "rewarded", "progress", "completed", "qualified", "expired",
    "sold_out", "limit_reached", "budget_exhausted", "not_live", "paused", "unavailable",
]


def _object(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """An answer's object: exactly these fields (``required`` defaults to all)."""
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


def _request(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    """A request body: unknown fields are ignored by the server, so allowed."""
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": True, **extra}


_SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {"type": "string", "description": "Stable, machine-readable reason."},
                    "message": {"type": "string", "description": "Human-readable explanation (may be localised)."},
                }
            )
        },
        description="Every error answer, whatever the status.",
    ),
    # --- requests ---
    "CustomerRequest": _request(
        {"customer": _CUSTOMER_REF}, ["customer"], examples=[{"customer": "C000123"}],
    ),
    "ClaimRequest": _request(
        {
            "customer": _CUSTOMER_REF,
            "item": {
                "type": ["integer", "null"],
                "description": "The key of the item to buy (from a previous answer's `item.key`); "
                "omitted or null: the first item with stock, in the campaign's order.",
            },
        },
        ["customer"],
        examples=[{"customer": "C000123"}, {"customer": "C000123", "item": 42}],
    ),
    "ReferralRequest": _request(
        {
            "customer": {**_CUSTOMER_REF, "description": "The referee: the invited customer."},
            "code": {
                "type": "string", "minLength": 1, "maxLength": 24, "pattern": r"\S",
                "description": "The invite code the referee was given (case and surrounding spaces are ignored).",
                "examples": ["K7XQ2MZP9A"],
            },
        },
        ["customer", "code"],
        examples=[{"customer": "C000456", "code": "K7XQ2MZP9A"}],
    ),
    "EventRequest": _request(
        {
            "event_id": {
                "type": "string", "minLength": 1, "maxLength": 80,
                "description": "The reporting system's id of the event; a second report with the same id "
                "from the same channel is answered with the first answer and changes nothing.",
            },
            "customer": _CUSTOMER_REF,
            "type": {"type": "string", "enum": list(common.EventType.values)},
            "amount": {
                "description": "Amount in CNY, at least 0 and below 10^12, rounded to the fen (0.01); "
                "as a JSON number or a decimal string.",
                "anyOf": [
                    {"type": "number", "minimum": 0, "exclusiveMaximum": 1_000_000_000_000},
                    {"type": "string", "pattern": MONEY_STRING},
                    {"type": "null"},
                ],
            },
            "product": {
                "type": ["string", "null"], "maxLength": 40,
                "description": "Product code, matched against an event campaign's product filter.",
            },
            "occurred_at": {
                **DATE_TIME, "type": ["string", "null"],
                "description": "When it happened, ISO 8601 with its UTC offset, at most 5 minutes in the "
                "future; omitted or null: now.",
            },
        },
        ["event_id", "customer", "type"],
        examples=[
            {
                "event_id": "core-20250601-000042", "customer": "C000123", "type": "first_deposit",
                "amount": "5000.00", "occurred_at": "2025-06-01T09:30:00+08:00",
            }
        ],
    ),
    # --- answers ---
    "Prize": _object(
        {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": _PRIZE_KINDS},
        }
    ),
    "Grant": _object(
        {
            "id": {
                "type": ["integer", "null"],
                "description": "The grant's id; null while the reward is queued (its grant is made in the background, "
                "within seconds) or when the prize pool refused it (`failed`).",
            },
            "award": {
                "type": ["integer", "null"],
                "description": "The campaign award the grant comes from (null for rewards dispatched by staff).",
            },
            "prize": _ref("Prize"),
            "status": {
                "type": "string", "enum": _GRANT_STATUSES,
                "description": "`queued` until the grant is made, then the grant's delivery status.",
            },
            "source": {"type": "string", "description": "What granted it, e.g. `campaign:LOT-20300101-A`."},
            "created_at": DATE_TIME,
            "delivered_at": {**DATE_TIME, "type": ["string", "null"]},
            "coupon_code": {"type": "string", "description": "The coupon's code, for coupon prizes once assigned."},
        },
        ["id", "award", "prize", "status", "source", "created_at", "delivered_at"],
        description="A reward given to the customer and its delivery status. A campaign answers with the reward "
        "`queued`: it is the customer's (its unit of stock and the customer's limits are taken, in the database); "
        "the grant follows in the background, and `GET /customers/{ref}/grants` shows its status.",
    ),
    "CampaignSummary": _object(
        {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": _KINDS},
            "starts_at": DATE_TIME,
            "ends_at": DATE_TIME,
            "actions": {"type": "array", "items": {"type": "string", "enum": _ACTIONS}},
            "rules": {"type": "string", "description": "The rules text shown to customers."},
            "draw_seed_sha256": {
                "type": "string", "pattern": "^[0-9a-f]{64}$",
                "description": "Lotteries only: SHA-256 of the draw seed, committed at approval "
                "(the seed is published when the campaign ends, so every draw can be verified).",
            },
        },
        ["code", "name", "kind", "starts_at", "ends_at", "actions", "rules"],
    ),
    "CustomerCampaigns": _object(
        {"customer": {"type": "string"}, "campaigns": {"type": "array", "items": _ref("CampaignSummary")}}
    ),
    "CustomerGrants": _object(
        {
            "customer": {"type": "string"},
            "grants": {
                "type": "array", "maxItems": 100, "items": _ref("Grant"),
                "description": "The customer's latest grants, newest first (at most 100).",
            },
        }
    ),
    "ViewRecorded": _object({"campaign": {"type": "string"}, "recorded": {"const": "view"}}),
    "Joined": _object(
        {
            "campaign": {"type": "string"},
            "joined": {"const": True},
            "already": {"type": "boolean", "description": "True when the customer had joined before."},
        }
    ),
    "DrawResult": {
        "description": "One lottery draw: `won` with the prize slot and the grant, or `no_prize` with why.",
        "oneOf": [
            _object(
                {
                    "campaign": {"type": "string"},
                    "result": {"const": "won"},
                    "draw": _ref("DrawNumber"),
                    "slot": _object({"key": {"type": "integer"}, "label": {"type": "string"}}),
                    "grant": _ref("Grant"),
                }
            ),
            _object(
                {
                    "campaign": {"type": "string"},
                    "result": {"const": "no_prize"},
                    "draw": _ref("DrawNumber"),
                    "reason": {
                        "type": "string", "enum": ["no_prize", "sold_out", "capped", "budget"],
                        "description": "`no_prize`: landed on a slot without a prize; `sold_out`, `capped`, "
                        "`budget`: landed on a prize that was gone, over the customer's limit or over the budget.",
                    },
                }
            ),
        ],
    },
    "DrawNumber": _object(
        {
            "number": {"type": "integer", "minimum": 1, "description": "The customer's draw number in this campaign."},
            "value": {
                "type": "string", "pattern": "^[0-9a-f]{16}$",
                "description": "The draw's 64-bit value (hex), derived from the seed, campaign, customer and number.",
            },
        }
    ),
    "Claimed": _object(
        {
            "campaign": {"type": "string"},
            "result": {"const": "claimed"},
            "item": {
                "type": "object",
                "required": ["key", "label"],
                "properties": {"key": {"type": "integer"}, "label": {"type": "string"}},
                "additionalProperties": True,
                "description": "The item bought, with its sale options (such as `price_points` or `price_cash`).",
            },
            "grant": _ref("Grant"),
        }
    ),
    "InviteCode": _object(
        {
            "campaign": {"type": "string"},
            "code": {"type": "string", "pattern": "^[A-HJ-NP-Z2-9]{10}$"},
            "created": {"type": "boolean", "description": "False when the customer already had this code."},
        }
    ),
    "ReferralAccepted": _object(
        {
            "referral": _object(
                {
                    "campaign": {"type": "string"},
                    "referrer": {"type": "string"},
                    "referee": {"type": "string"},
                    "status": {"type": "string", "enum": ["pending", "rewarded", "capped", "expired"]},
                    "qualify_by": {
                        **DATE_TIME,
                        "description": "The referee must do the qualifying action before this time.",
                    },
                }
            )
        }
    ),
    "EventResult": _object(
        {
            "campaign": {"type": "string"},
            "outcome": {"type": "string", "enum": _EVENT_OUTCOMES},
            "grants": {"type": "array", "items": _ref("Grant")},
            "steps_done": {
                "type": "array", "items": {"type": "integer", "minimum": 1},
                "description": "Task chains: the steps (from 1) the customer has completed.",
            },
        },
        ["campaign", "outcome"],
        description="What one live campaign did with the event.",
    ),
    "EventRecorded": _object(
        {
            "event_id": {"type": "string"},
            "duplicate": {"type": "boolean", "description": "True for a repeated event_id: the first answer's results."},
            "results": {"type": "array", "items": _ref("EventResult")},
        }
    ),
}

_SIGNING = (
    "Every request except this document is signed by the calling channel with its secret:\n\n"
    "- `X-Channel-Key`: the channel's key id;\n"
    f"- `X-Timestamp`: the current time in Unix seconds (refused when more than {settings.CAMPAIGNS_API_MAX_SKEW} "
    "seconds off);\n"
    "- `X-Signature`: lowercase hex HMAC-SHA256, keyed with the channel's secret, of the UTF-8 string\n\n"
    "      X-Timestamp + \"\\n\" + METHOD + \"\\n\" + path + \"\\n\" + hex(SHA-256(body))\n\n"
    "  where METHOD is upper case, `path` is the request path with its query string as in the request "
    "line, e.g. `/api/v1/campaigns/LOT-20300101-A/draw` (campaign codes and customer references are "
    "letters, digits, `.`, `-` and `_`, never percent-encoded), and the body hash is of the exact bytes "
    "sent (of the empty string for a GET).\n\n"
    "After a secret is rotated, the previous secret keeps verifying for a grace period."
)

_DESCRIPTION = f"""The channel API of Campaign Studio: the bank's app, SMS landing pages, WeChat backend
and core systems use it to show customers their campaigns, let them take part, and report business events.

## Authentication

{_SIGNING}

## Idempotency

POSTs accept an `Idempotency-Key` header (1 to 120 printable characters). The same key with the same body
to the same endpoint from the same channel returns the first answer (with `Idempotent-Replay: true`) and
changes nothing; the same key with another body or to another endpoint is refused with 409
`idempotency_conflict`. Business events are idempotent by their `event_id` as well.

## Errors

Every error is `{{"error": {{"code": "...", "message": "..."}}}}` with the fitting status: 400 malformed,
401 authentication, 403 not eligible, 404 unknown, 405 wrong method (with `Allow`), 409 limit reached,
sold out or conflicting retry, 410 not live, 429 rate limited and 503 briefly unavailable (both with
`Retry-After`). An unknown path under `/api/v1/` is 404 `not_found`.

Answers list exactly the fields of this version of the document; request bodies may carry fields the
server does not know, which it ignores.
"""

_CUSTOMER_ERRORS = {400: ("malformed",), 404: ("unknown_customer",)}


def _campaign_action(
    operation_id: str, summary: str, description: str, ok: tuple[str, str], *, body: str = "CustomerRequest",
    extra: dict[int, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    errors: dict[int, tuple[str, ...]] = {
        400: ("malformed",),
        403: ELIGIBILITY_CODES,
        404: ("unknown_campaign", "unknown_customer"),
        409: ("idempotency_conflict",),
        410: LIVE_CODES,
    }
    for status, codes in (extra or {}).items():
        errors[status] = tuple(dict.fromkeys((*errors.get(status, ()), *codes)))
    return {
        "parameters": [{"$ref": "#/components/parameters/CampaignCode"}],
        "post": _operation(operation_id, "campaigns", summary, description, (200, *ok), body=body, errors=errors),
    }


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Campaign Studio channel API",
        "version": "1",
        "description": _DESCRIPTION,
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"ChannelKey": [], "Timestamp": [], "Signature": []}],
    "tags": [
        {"name": "customers", "description": "What a customer may join and what they have won."},
        {"name": "campaigns", "description": "A customer takes part in a live campaign."},
        {"name": "referrals", "description": "Invitations between customers."},
        {"name": "events", "description": "Business events from the bank's systems."},
        {"name": "meta", "description": "This document."},
    ],
    "paths": {
        "/openapi.json": {
            "get": {
                "operationId": "openapiDocument",
                "tags": ["meta"],
                "summary": "This OpenAPI document",
                "description": "Not signed.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document of the channel API.",
                        "content": {"application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}},
                    }
                },
            }
        },
        "/customers/{ref}/campaigns": {
            "parameters": [{"$ref": "#/components/parameters/CustomerRef"}],
            "get": _operation(
                "customerCampaigns", "customers", "Live campaigns this customer may take part in",
                "The campaigns being served now, published on the calling channel's kind, whose audience "
                "includes the customer (not in the control group, not excluded).",
                (200, "The customer's campaigns (possibly none).", "CustomerCampaigns"),
                errors=_CUSTOMER_ERRORS,
            ),
        },
        "/customers/{ref}/grants": {
            "parameters": [{"$ref": "#/components/parameters/CustomerRef"}],
            "get": _operation(
                "customerGrants", "customers", "The customer's rewards and their status",
                "The latest rewards of the customer, from every campaign, newest first: grants, and campaign "
                "rewards whose grant is still queued (or was refused).",
                (200, "The customer's grants (possibly none).", "CustomerGrants"),
                errors=_CUSTOMER_ERRORS,
            ),
        },
        "/campaigns/{code}/view": _campaign_action(
            "campaignView", "Record an exposure",
            "The customer saw the campaign on this channel (for the analysis). Any kind.",
            ("The exposure was recorded.", "ViewRecorded"),
        ),
        "/campaigns/{code}/join": _campaign_action(
            "campaignJoin", "Join (register for) a campaign",
            "Event, lottery and task-chain campaigns. Joining twice answers `already: true`.",
            ("The customer has joined.", "Joined"),
        ),
        "/campaigns/{code}/draw": _campaign_action(
            "campaignDraw", "One lottery draw",
            "Lotteries. Counts against the customer's draws per day and in total (409 `limit_reached` "
            "when none are left). A prize won is the customer's at once; its grant follows in the background.",
            ("The draw's result.", "DrawResult"),
            extra={409: ("limit_reached", "sold_out", "budget_exhausted")},
        ),
        "/campaigns/{code}/claim": _campaign_action(
            "campaignClaim", "Claim a flash-sale item",
            "Flash sales. Takes one unit of the item's stock and counts against the customer's limit.",
            ("The customer got the item.", "Claimed"),
            body="ClaimRequest",
            extra={404: ("unknown_item",), 409: ("limit_reached", "sold_out", "budget_exhausted")},
        ),
        "/campaigns/{code}/invite": _campaign_action(
            "campaignInvite", "The customer's invite code",
            "Referral campaigns. Made on the first call, the same code afterwards.",
            ("The invite code.", "InviteCode"),
        ),
        "/referrals": {
            "post": _operation(
                "referralAccept", "referrals", "A referee accepts an invite code",
                "The invited customer (who must have opened their account after the invitation) accepts "
                "it; the referrer and the referee are rewarded when the referee does the campaign's "
                "qualifying action in time (reported through `POST /events`).",
                (201, "The referral, pending its qualifying action.", "ReferralAccepted"),
                body="ReferralRequest",
                errors={
                    400: ("malformed",),
                    403: ("self_referral", "existing_customer", "action_not_supported", "channel_not_enabled",
                          "excluded"),
                    404: ("unknown_customer", "unknown_invite"),
                    409: ("already_referred", "idempotency_conflict"),
                    410: LIVE_CODES,
                },
            )
        },
        "/events": {
            "post": _operation(
                "eventReport", "events", "Report a business event",
                "A business event of a customer (a deposit, a card activation, …), taken from any active "
                "channel. Every live event, task-chain and referral campaign acts on it; the answer lists "
                "what each did. Idempotent by `event_id`.",
                (200, "The event was recorded (or is a repeat of one that was).", "EventRecorded"),
                body="EventRequest",
                errors={400: ("malformed",), 404: ("unknown_customer",), 409: ("idempotency_conflict",)},
            )
        },
    },
    "components": {
        "securitySchemes": {
            "ChannelKey": {
                "type": "apiKey", "in": "header", "name": "X-Channel-Key",
                "description": "The calling channel's key id.",
            },
            "Timestamp": {
                "type": "apiKey", "in": "header", "name": "X-Timestamp",
                "description": "Unix seconds when the request was signed; at most "
                f"{settings.CAMPAIGNS_API_MAX_SKEW} seconds from the server's clock.",
            },
            "Signature": {"type": "apiKey", "in": "header", "name": "X-Signature", "description": _SIGNING},
        },
        "parameters": {
            "CustomerRef": _path_parameter("ref", "The customer's reference (customer number)."),
            "CampaignCode": _path_parameter("code", "The campaign's code, e.g. `LOT-20300101-A`."),
            "IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "Makes a retry safe: the same key with the same body returns the first answer "
                "and changes nothing.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 120, "pattern": "^[!-~]+$"},
            },
        },
        "schemas": _SCHEMAS,
    },
}


def document_view(request):
    if request.method != "GET":
        return views.error(405, "method_not_allowed", _("Use %(method)s.") % {"method": "GET"}, Allow="GET")
    return JsonResponse(DOCUMENT)
