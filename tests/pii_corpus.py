"""A labelled corpus shaped like LLM traffic for the `redact` processor, and the scoring of a scanner on it.

The PII values come from Faker (its locales' phone formats, Luhn-valid card numbers per network, IBANs with
valid checksums), not from the detectors' own patterns; secrets are built in each vendor's published format.
The texts are prompts, completions, tool-call JSON, semconv message arrays, code and log lines; about a third
are hard negatives with no PII at all (UUIDs, hashes, versions, order ids, Luhn-invalid digit runs,
timestamps, trace ids, prices). Deterministic for a seed.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker

from llmtap.processors.redact.scanner import Scanner


@dataclass
class Sample:
    text: str
    kind: str
    entities: list[tuple[str, str]] = field(default_factory=list)
    """(type, value) for every PII item in `text`; empty for a hard negative."""


@dataclass
class Score:
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    missed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    negatives: int = 0
    negatives_changed: int = 0
    json_samples: int = 0
    json_broken: int = 0
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    false_findings: list[tuple[str, str, str]] = field(default_factory=list)

    def recall(self, kind: str) -> float:
        total = self.found[kind] + self.missed[kind]
        return self.found[kind] / total if total else 1.0

    def precision(self, kind: str) -> float:
        total = self.found[kind] + self.false[kind]
        return self.found[kind] / total if total else 1.0

    @property
    def types(self) -> list[str]:
        return sorted(set(self.found) | set(self.missed) | set(self.false))

    @property
    def change_rate(self) -> float:
        return self.negatives_changed / self.negatives if self.negatives else 0.0


def _overlaps(a: str, b: str) -> bool:
    return a in b or b in a


def score(scanner: Scanner, samples: list[Sample]) -> Score:
    """Recall: an item counts as found when a finding of its type covers it and its value is gone from the
    output. Precision: a finding is right when it covers a labelled item of the same type."""
    result = Score()
    for sample in samples:
        out, findings = scanner.redact(sample.text)
        if sample.kind in ("tool_call", "messages"):
            result.json_samples += 1
            try:
                json.loads(out)
            except ValueError:
                result.json_broken += 1
        if not sample.entities:
            result.negatives += 1
            result.negatives_changed += out != sample.text
        for kind, value in sample.entities:
            gone = value not in out and json.dumps(value)[1:-1] not in out
            if gone and any(f.type == kind and _overlaps(f.value, value) for f in findings):
                result.found[kind] += 1
            else:
                result.missed[kind] += 1
                result.misses.append((kind, value, sample.text[:160]))
        for f in findings:
            if not any(kind == f.type and _overlaps(f.value, value) for kind, value in sample.entities):
                result.false[f.type] += 1
                result.false_findings.append((f.type, f.value, sample.text[:160]))
    return result


class _Values:
    """Generators of one PII value per type."""

    def __init__(self, rng: random.Random, seed: int):
        self.rng = rng
        self.fakers = {loc: Faker(loc) for loc in ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "ja_JP",
                                                   "pt_BR", "en_AU", "nl_NL", "en_IN")}
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed + i)
        self.us = self.fakers["en_US"]

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def token(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def email(self) -> str:
        f = self.fakers[self.pick(["en_US", "en_GB", "de_DE", "fr_FR"])]
        roll = self.rng.random()
        if roll < 0.5:
            return f.email()
        if roll < 0.75:
            return f"{f.first_name().lower()}.{f.last_name().lower()}+{self.pick(['news', 'ai', 'billing'])}" \
                   f"@{f.domain_name()}".encode("ascii", "ignore").decode()
        return f.company_email()

    def phone(self) -> str:
        while True:
            loc = self.pick(["en_US", "en_GB", "fr_FR", "ja_JP", "pt_BR", "es_ES", "de_DE", "en_AU", "it_IT", "nl_NL"])
            number = self.fakers[loc].phone_number()
            # bare digit runs are order ids as often as phones: they are labelled only with a phone keyword
            if number.startswith("+") or any(c in number for c in " -.()"):
                return str(number)

    def bare_phone(self) -> str:
        return self.pick(["+1", "+44", "+49", ""]) + str(self.rng.randint(2000000000, 9899999999))

    def ssn(self) -> str:
        value = str(self.us.ssn())
        return value.replace("-", " ") if self.rng.random() < 0.1 else value

    def card(self) -> str:
        kind = self.pick(["visa", "visa16", "mastercard", "amex", "discover", "jcb", "diners", "maestro"])
        digits = str(self.us.credit_card_number(card_type=kind))
        while digits.startswith("0"):  # Faker's Maestro list has a 0604 prefix no network issues
            digits = str(self.us.credit_card_number(card_type=kind))
        style = self.rng.random()
        if style < 0.4 or len(digits) not in (15, 16):
            return digits
        sep = " " if style < 0.7 else "-"
        if len(digits) == 15:
            return sep.join((digits[:4], digits[4:10], digits[10:]))
        return sep.join(digits[i:i + 4] for i in range(0, 16, 4))

    def iban(self) -> str:
        value = str(self.fakers[self.pick(["en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"])].iban())
        if self.rng.random() < 0.5:
            return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
        return value

    def ip(self) -> str:
        roll = self.rng.random()
        if roll < 0.4:
            return str(self.us.ipv4_public())
        if roll < 0.7:
            return str(self.us.ipv4_private())
        return str(self.us.ipv6())

    def url_credentials(self) -> tuple[str, list[tuple[str, str]]]:
        user = self.pick(["admin", "svc_app", self.us.user_name(), "root", "deploy"])
        password = self.token(self.rng.randint(8, 20), string.ascii_letters + string.digits + "!$*_-")
        host = self.pick(["db.internal", self.us.domain_name(), "10.0.3.7", "redis.prod.svc"])
        scheme = self.pick(["postgres", "postgresql", "mysql", "redis", "https", "mongodb+srv", "amqp"])
        entities = [("URL_CREDENTIALS", f"{user}:{password}")]
        if host[0].isdigit():
            entities.append(("IP_ADDRESS", host))
        return f"{scheme}://{user}:{password}@{host}/{self.pick(['app', 'main', '0', 'jobs'])}", entities

    def api_key(self) -> str:
        kind = self.rng.randrange(7)
        if kind == 0:
            return "sk-proj-" + self.token(48, string.ascii_letters + string.digits + "_-")
        if kind == 1:
            return "sk-ant-api03-" + self.token(93, string.ascii_letters + string.digits + "_-") + "AA"
        if kind == 2:
            return "AKIA" + self.token(16, string.ascii_uppercase + "234567")
        if kind == 3:
            return "ghp_" + self.token(36)
        if kind == 4:
            return f"xoxb-{self.rng.randint(10**11, 10**12)}-{self.rng.randint(10**11, 10**12)}-{self.token(24)}"
        if kind == 5:
            return "AIza" + self.token(35, string.ascii_letters + string.digits + "_-")
        return "github_pat_" + self.token(22) + "_" + self.token(59)

    def jwt(self) -> str:
        def part(obj: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
        signature = base64.urlsafe_b64encode(self.rng.randbytes(32)).decode().rstrip("=")
        claims = {"sub": str(self.rng.randint(1, 10**9)), "name": self.us.name(), "iat": 1700000000}
        return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"

    def private_key(self) -> str:
        kind = self.pick(["RSA ", "EC ", "", "OPENSSH "])
        body = "\n".join(base64.b64encode(self.rng.randbytes(48)).decode() for _ in range(self.rng.randint(3, 8)))
        return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"

    def secret(self) -> tuple[str, str]:
        value = self.token(self.rng.randint(16, 40), string.ascii_letters + string.digits + "_-")
        if self.rng.random() < 0.3:
            password = self.token(self.rng.randint(10, 16), string.ascii_letters + string.digits + "!#%&")
            return self.pick([f"password={password}", f"PASSWORD: {password}", f'"db_password": "{password}"',
                              f"pwd={password}"]), password
        template = self.pick(["api_key={v}", "API_KEY: {v}", "client_secret = '{v}'", "Authorization: Bearer {v}",
                              "export SERVICE_TOKEN={v}", '"access_key": "{v}"', "secret: {v}", "X-Auth-Token: {v}"])
        return template.format(v=value), value

    def birth_date(self) -> tuple[str, str]:
        born = self.us.date_of_birth(minimum_age=18, maximum_age=90)
        fmt = self.pick(["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%B %d, %Y", "%d %B %Y", "%b %d, %Y"])
        value = born.strftime(fmt)
        phrase = self.pick(["date of birth: {v}", "DOB: {v}", "born on {v}", "my birthday is {v}",
                            "Date of Birth {v}", "birthdate {v}"])
        return phrase.format(v=value), value


_PROMPTS = [
    "Hi, I'm {name}. Can you update my contact details? Email: {EMAIL}, phone {PHONE}.",
    "Please draft a reply to {EMAIL} confirming the refund to card {CREDIT_CARD}.",
    "My SSN is {US_SSN} and I need help filling in form W-4 for {company}.",
    "Wire the invoice amount to IBAN {IBAN}, reference INV-{num}.",
    "Our server at {IP_ADDRESS} keeps timing out after the 3.2.1 upgrade, any idea why?",
    "Summarise this ticket: customer {name} ({EMAIL}) called from {PHONE} about order #{num}.",
    "I found this in the config, is it safe to commit? {SECRET}",
    "Why does my script fail? it uses {API_KEY} to call the API",
    "Translate to French: 'Contact us at {EMAIL} or {PHONE}.'",
    "The patient's {DATE_OF_BIRTH}; summarise the visit notes in two lines.",
    "Debug this connection string: {URL_CREDENTIALS}",
    "Decode this token and tell me when it expires: {JWT}",
    "Can you check whether this key is encrypted?\n{PRIVATE_KEY}",
    "Fill the form: name {name}, {DATE_OF_BIRTH}, SSN {US_SSN}, phone {PHONE}.",
    "Pay with {CREDIT_CARD} exp 0{digit}/2{digit}, billing email {EMAIL}",
    "Le client {name} (tél. {PHONE}) demande un remboursement sur {IBAN}.",
    "Login failures from {IP_ADDRESS} and {IP_ADDRESS} since 02:00 UTC.",
    "call me at {BARE_PHONE} after 5pm",
]
_COMPLETIONS = [
    "I've updated your profile with the email {EMAIL} and the phone number {PHONE}. Anything else?",
    "Sure! Here's a draft:\n\nDear {name},\nYour refund to the card ending in {CREDIT_CARD} is on its way.",
    "The request from {IP_ADDRESS} was blocked by the firewall rule 42.",
    "You should rotate that credential ({SECRET}) immediately and move it to a secret manager.",
    "I can't help with storing {US_SSN} in plain text; consider tokenising it.",
    "The transfer to {IBAN} was scheduled for {date}.",
    "Here is the corrected URL: {URL_CREDENTIALS} (port 5432 is the default).",
    "Your key {API_KEY} appears in the public repo; revoke it now.",
    "Noted: {DATE_OF_BIRTH}. I have added it to the intake form.",
]
_CODE = [
    'client = OpenAI(api_key="{API_KEY}")\nresp = client.chat.completions.create(model="gpt-4o-mini", messages=msgs)',
    'DATABASE_URL = "{URL_CREDENTIALS}"\nengine = create_engine(DATABASE_URL, pool_size=5)',
    "# contact: {EMAIL}\ndef retry(n: int = 3) -> None:\n    ...",
    "headers = {{'{SECRET_HEADER}'}}\nrequests.get(url, headers=headers, timeout=30)",
    "ALLOWED_HOSTS = ['{IP_ADDRESS}', 'localhost']\nDEBUG = False",
    "KEY = '''{PRIVATE_KEY}'''",
    "curl -H 'Authorization: Bearer {JWT}' https://api.example.com/v1/items",
]
_LOGS = [
    "{ts} INFO  request_id={uuid} client={IP_ADDRESS} user={EMAIL} status=200 latency_ms={num}",
    "{ts} WARN  payment declined card={CREDIT_CARD} order=ORD-{num} amount=$42.10",
    "{ts} ERROR db connect failed dsn={URL_CREDENTIALS} retry=3",
    "{ts} DEBUG outgoing call to {PHONE} sid=CA{hex}",
    "{ts} INFO  kyc check ssn={US_SSN} result=pass trace_id={hex}",
    "{ts} WARN  leaked {SECRET} in env dump pid={num}",
]
_NEGATIVES = [
    "Request {uuid} finished in {num} ms with status 200 (model gpt-4o-2024-08-06).",
    "Upgrade from version {version} to {version} fixed the regression in commit {sha}.",
    "Order ORD-{date_compact}-{num} shipped on {date}; tracking number 1Z{hex8}{num}.",
    "The checksum is sha256:{sha256} and the build id is {uuid}.",
    "Reference number {bad_card} was rejected by the validator (checksum mismatch).",
    "Timestamp {ts} epoch {epoch} duration {num}.{num}s retries 3",
    "trace_id={hex} span_id={hex16} parent={hex16} sampled=1",
    "Total: $1,{num}.99 for {num} units at $3.{num2} each (SKU {sku}).",
    "Python {version} and numpy {version} on Ubuntu 22.04; pip install 'openai>=2.0'",
    "Invoice #{num}{num} dated {date} for {company}, due in 30 days.",
    "The meeting is at 10:30 on {date}; room 4.{num2}, building B-{num2}.",
    "Matrix dims 1024 x 768 x 3, learning rate 3e-4, batch 256, step {num} of 100000.",
    "max_tokens: 4096, temperature: 0.7, top_p: 0.95, seed: {num}",
    "Coordinates 48.8566, 2.3522 and elevation 35 m; population 2,148,000.",
    "Card number {bad_card} is invalid, please re-enter it.",
    "ISBN 978-3-16-148410-0 and DOI 10.1000/{num}; see pages 12-{num2}.",
    "{name} from {company} asked about the {version} release notes.",
    "std::vector<int> v; v.reserve({num}); // see a::b and ns::f()",
    "Git tag v{version} points at {sha}; CI run #{num} passed.",
    "auth: required, token_limit: 8192, api_version: 2024-10-21",
]


def _negative_value(v: _Values, name: str) -> str:
    rng = v.rng
    if name == "uuid":
        return str(v.us.uuid4())
    if name == "version":
        return f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
    if name == "sha":
        return v.token(40, "0123456789abcdef")
    if name == "sha256":
        return v.token(64, "0123456789abcdef")
    if name == "hex":
        return v.token(32, "0123456789abcdef")
    if name == "hex16":
        return v.token(16, "0123456789abcdef")
    if name == "hex8":
        return v.token(8, "0123456789ABCDEF")
    if name == "num":
        return str(rng.randint(10, 99999))
    if name == "num2":
        return str(rng.randint(10, 99))
    if name == "digit":
        return str(rng.randint(1, 9))
    if name == "date":
        return str(v.us.date_between(start_date="-3y", end_date="+1y"))
    if name == "date_compact":
        return v.us.date_between(start_date="-3y").strftime("%Y%m%d")
    if name == "ts":
        return v.us.date_time_between(start_date="-1y").strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randint(0, 999):03d}Z"
    if name == "epoch":
        return str(rng.randint(1_600_000_000, 1_800_000_000))
    if name == "bad_card":
        while True:
            digits = "".join(str(rng.randint(0, 9)) for _ in range(16))
            if not _luhn(digits):
                return " ".join(digits[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.5 else digits
    if name == "sku":
        return f"{v.token(3, string.ascii_uppercase)}-{rng.randint(1000, 9999)}"
    if name == "name":
        return str(v.us.name())
    if name == "company":
        return str(v.us.company())
    raise KeyError(name)


def _luhn(digits: str) -> bool:
    """The card checksum, written here apart from the detector's (in C) so that the corpus does not lean on it."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _fill(v: _Values, template: str, entities: list[tuple[str, str]]) -> str:
    """Fill `{TYPE}` slots with labelled values and `{name}`-style slots with unlabelled filler."""
    simple: dict[str, Callable[[], str]] = {
        "EMAIL": v.email, "PHONE": v.phone, "US_SSN": v.ssn, "CREDIT_CARD": v.card, "IBAN": v.iban,
        "IP_ADDRESS": v.ip, "API_KEY": v.api_key, "JWT": v.jwt, "PRIVATE_KEY": v.private_key,
    }
    out: list[str] = []
    for literal, slot, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if slot is None:
            continue
        if slot in simple:
            value = simple[slot]()
            entities.append((slot, value))
            out.append(value)
        elif slot == "BARE_PHONE":
            value = v.bare_phone()
            entities.append(("PHONE", value))
            out.append(value)
        elif slot in ("SECRET", "SECRET_HEADER"):
            text, value = v.secret()
            entities.append(("SECRET", value))
            out.append(text if slot == "SECRET" else text.replace("=", ": ", 1))
        elif slot == "URL_CREDENTIALS":
            text, found = v.url_credentials()
            entities.extend(found)
            out.append(text)
        elif slot == "DATE_OF_BIRTH":
            text, value = v.birth_date()
            entities.append(("DATE_OF_BIRTH", value))
            out.append(text)
        else:
            out.append(_negative_value(v, slot))
    return "".join(out)


def _messages(v: _Values, texts: list[str]) -> str:
    """A `gen_ai.input.messages` value in the semconv JSON schema."""
    messages: list[dict[str, object]] = []
    for i, text in enumerate(texts):
        role = "user" if i % 2 == 0 else "assistant"
        messages.append({"role": role, "parts": [{"type": "text", "content": text}]})
    if v.rng.random() < 0.3:
        call = {"type": "tool_call", "id": f"call_{v.token(24)}", "name": "lookup_order",
                "arguments": {"order_id": v.token(8)}}
        messages.append({"role": "assistant", "parts": [call]})
    return json.dumps(messages, ensure_ascii=v.rng.random() < 0.5)


def _tool_call(v: _Values, entities: list[tuple[str, str]]) -> str:
    args: dict[str, object] = {"customer_id": str(v.us.uuid4()), "notify": True, "limit": v.rng.randint(1, 50)}
    for kind in v.rng.sample(["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS"], v.rng.randint(1, 3)):
        text = _fill(v, "{" + kind + "}", entities)
        args[kind.lower()] = text
    return json.dumps({"name": "update_customer", "arguments": args})


def _negative(v: _Values) -> tuple[str, str]:
    kind = v.pick(["prompt", "completion", "log", "code", "messages", "tool_call"])
    if kind == "messages":
        return _messages(v, [_fill(v, v.pick(_NEGATIVES), []) for _ in range(v.rng.randint(1, 3))]), kind
    if kind == "tool_call":
        args = {"order_id": f"ORD-{_negative_value(v, 'num')}", "request_id": _negative_value(v, "uuid"),
                "sha": _negative_value(v, "sha"), "when": _negative_value(v, "ts"),
                "version": _negative_value(v, "version"), "reference": _negative_value(v, "bad_card")}
        return json.dumps({"name": "get_order", "arguments": args}), kind
    return _fill(v, v.pick(_NEGATIVES), []), kind


def generate(count: int = 2400, seed: int = 7) -> list[Sample]:
    """`count` samples, a third of them hard negatives."""
    rng = random.Random(seed)
    v = _Values(rng, seed)
    samples: list[Sample] = []
    for i in range(count):
        if i % 3 == 2:
            text, kind = _negative(v)
            samples.append(Sample(text, kind))
            continue
        entities: list[tuple[str, str]] = []
        kind = v.pick(["prompt", "completion", "code", "log", "messages", "tool_call"])
        if kind == "prompt":
            text = _fill(v, v.pick(_PROMPTS), entities)
        elif kind == "completion":
            text = _fill(v, v.pick(_COMPLETIONS), entities)
        elif kind == "code":
            text = _fill(v, v.pick(_CODE), entities)
        elif kind == "log":
            text = _fill(v, v.pick(_LOGS), entities)
        elif kind == "messages":
            texts = [_fill(v, v.pick(_PROMPTS), entities), _fill(v, v.pick(_COMPLETIONS), entities)]
            text = _messages(v, texts[:v.rng.randint(1, 2)])
            entities = [e for e in entities if e[1] in text or json.dumps(e[1])[1:-1] in text]
        else:
            text = _tool_call(v, entities)
        samples.append(Sample(text, kind, entities))
    return samples
