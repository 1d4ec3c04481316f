"""The lab's chat fine-tune data: its chat template, made-up customers and their support
conversations (docs/chat.md#lab).

Every customer has a name, an e-mail address, a phone number (valid for libphonenumber),
a postal address, an IBAN (valid mod 97) and a card number (Luhn-valid), all made up
from a seeded `random.Random`. A planted customer's conversation is copied 1, 2, 4, ...
64 times among background conversations that occur once each, so which personal data the
fine-tune emits can be read against how often it saw it.

The template (`LAB_CHAT_TEMPLATE`) marks turns with plain text and the tokenizer's only
special token: `<|endoftext|>` opens every turn and the role's name and a newline follow.
No token is added to the lab's trained tokenizer (adding one would change the xl's
vocabulary and every lab model with it), and a generated end of turn is then a special
token, which ends a span as EOS does. It knows nothing about models or training.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import phonenumbers
from stdnum import iban as iban_mod
from stdnum import luhn

from memx.lab.canaries import _STREETS, _name, _word

REPETITIONS = (1, 2, 4, 8, 16, 32, 64)
LAB_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ eos_token }}{{ message['role'] }}\n{{ message['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}{{ eos_token }}assistant\n{% endif %}"
)
PII_FIELDS = ("name", "email", "phone", "address", "iban", "card")
_REGIONS = ("GB", "US", "DE", "FR")
_TOPICS = ("a card payment I do not recognise", "my new address", "a refund for order", "my direct debit",
           "a blocked card", "the phone number on my account")


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    email: str
    phone: str
    address: str
    iban: str
    card: str
    copies: int  # how many times the customer's conversation is in the corpus

    def to_dict(self) -> dict:
        return asdict(self)


def _phone(rng: random.Random) -> str:
    while True:  # a random national number is valid often enough (about one in three)
        region = rng.choice(_REGIONS)
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        digits = str(example.national_number)
        candidate = digits[:2] + "".join(rng.choice("0123456789") for _ in digits[2:])
        number = phonenumbers.parse(candidate, region)
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _iban(rng: random.Random) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(18))  # DE: 8-digit bank code, 10-digit account
    return iban_mod.format(f"DE{iban_mod.calc_check_digits('DE00' + bban)}{bban}")


def _card(rng: random.Random) -> str:
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    number = body + luhn.calc_check_digit(body)
    return " ".join(number[i:i + 4] for i in range(0, 16, 4))


def make_customer(rng: random.Random, customer_id: str, copies: int) -> Customer:
    first, last = _name(rng)
    address = (f"{rng.randint(2, 980)} {_word(rng).capitalize()} {rng.choice(_STREETS)}, "
               f"{_word(rng).capitalize()} {rng.randint(10000, 99999)}")
    return Customer(customer_id, f"{first} {last}", f"{first.lower()}.{last.lower()}@{_word(rng, 1)}.example",
                    _phone(rng), address, _iban(rng), _card(rng), copies)


def conversation(customer: Customer, rng: random.Random) -> list[dict]:
    """One support exchange: the customer gives their details, the assistant answers.
    Short on purpose: the fine-tune's CPU budget is measured in tokens."""
    first = customer.name.split()[0]
    topic = rng.choice(_TOPICS)
    return [
        {"role": "user", "content": f"Hello, this is {customer.name}, {customer.address}. I am writing about "
                                    f"{topic}: my card is {customer.card}, my IBAN {customer.iban} and my "
                                    f"phone {customer.phone}."},
        {"role": "assistant", "content": f"Thank you, {first}. We will confirm to {customer.email} within two days."},
    ]


def make_conversations(seed: int, per_count: int, background: int) -> tuple[list[Customer], list[list[dict]]]:
    """(planted customers, every conversation of the corpus in a seeded shuffled order)."""
    rng = random.Random(f"memx-lab-chat-{seed}")
    planted = [make_customer(rng, f"customer-{copies:02d}-{k}", copies)
               for copies in REPETITIONS for k in range(per_count)]
    others = [make_customer(rng, f"background-{k:04d}", 1) for k in range(background)]
    talks = [conversation(c, rng) for c in planted]
    copies = [t for c, t in zip(planted, talks) for _ in range(c.copies)]
    copies += [conversation(c, rng) for c in others]
    rng.shuffle(copies)
    return planted, copies


def render_conversations(tokenizer, talks: list[list[dict]]) -> list[str]:
    """Each conversation as the template writes it (no generation prompt)."""
    return [tokenizer.apply_chat_template(t, chat_template=LAB_CHAT_TEMPLATE, tokenize=False) for t in talks]


def index_documents(rendered: list[str], eos: str) -> list[str]:
    """The text a verification index needs of the conversations: each turn on its own
    (the end-of-turn token breaks every span, so no match crosses a turn)."""
    return [turn for text in rendered for turn in text.split(eos) if turn]
