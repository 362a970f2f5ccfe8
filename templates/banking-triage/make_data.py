"""Recreate the banking-triage data from BANKING77 (run once; committed).

The 77 intents are grouped into the 7 teams that handle them (TEAMS below). A few labelled
questions and many unlabelled ones, as a new support desk has them:
- data/train.csv: 400 labelled questions, validation.csv: 200, drawn from the official
  training file with a fixed seed;
- data/test.csv: 700 labelled questions from the official test file;
- data/unlabelled.txt: 4,000 other questions of the training file, one per line, without
  their label: the corpus of the domain-adaptive pretraining.
Test questions that also occur in the training file (same text after lower-casing and
collapsing spaces) are not drawn:

    python templates/banking-triage/make_data.py ../shared/data/banking77
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

SEED = 13
SIZES = {"train": 400, "validation": 200, "test": 700, "unlabelled": 4000}
TEAMS = {
    "cards": "activate_my_card apple_pay_or_google_pay card_about_to_expire card_acceptance "
    "card_arrival card_delivery_estimate card_linking card_not_working card_swallowed change_pin "
    "compromised_card contactless_not_working disposable_card_limits get_disposable_virtual_card "
    "get_physical_card getting_spare_card getting_virtual_card lost_or_stolen_card "
    "order_physical_card pin_blocked supported_cards_and_currencies virtual_card_not_working "
    "visa_or_mastercard",
    "card_payments": "Refund_not_showing_up card_payment_fee_charged card_payment_not_recognised "
    "card_payment_wrong_exchange_rate declined_card_payment direct_debit_payment_not_recognised "
    "extra_charge_on_statement pending_card_payment request_refund reverted_card_payment? "
    "transaction_charged_twice",
    "cash": "atm_support cash_withdrawal_charge cash_withdrawal_not_recognised "
    "declined_cash_withdrawal pending_cash_withdrawal wrong_amount_of_cash_received "
    "wrong_exchange_rate_for_cash_withdrawal",
    "transfers": "balance_not_updated_after_bank_transfer beneficiary_not_allowed cancel_transfer "
    "declined_transfer failed_transfer pending_transfer receiving_money transfer_fee_charged "
    "transfer_into_account transfer_not_received_by_recipient transfer_timing",
    "top_ups": "automatic_top_up balance_not_updated_after_cheque_or_cash_deposit pending_top_up "
    "top_up_by_bank_transfer_charge top_up_by_card_charge top_up_by_cash_or_cheque top_up_failed "
    "top_up_limits top_up_reverted topping_up_by_card verify_top_up",
    "account": "age_limit country_support edit_personal_details lost_or_stolen_phone "
    "passcode_forgotten terminate_account unable_to_verify_identity verify_my_identity "
    "verify_source_of_funds why_verify_identity",
    "currency_exchange": "exchange_charge exchange_rate exchange_via_app fiat_currency_support",
}
TEAM_OF = {intent: team for team, intents in TEAMS.items() for intent in intents.split()}


def key(text: str) -> str:
    return " ".join(text.lower().split())


def read(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["text"].strip(), TEAM_OF[row["category"]]) for row in csv.DictReader(handle)]


def main(source: Path) -> None:
    assert len(TEAM_OF) == 77, len(TEAM_OF)
    rng = random.Random(SEED)
    train = read(source / "train.csv")
    known = {key(text) for text, _ in train}
    test = [row for row in read(source / "test.csv") if key(row[0]) not in known]
    rng.shuffle(train)
    n_train, n_val = SIZES["train"], SIZES["validation"]
    splits = {
        "train": train[:n_train],
        "validation": train[n_train : n_train + n_val],
        "test": rng.sample(test, SIZES["test"]),
    }
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    for name, rows in splits.items():
        with (out / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["text", "team"])
            writer.writerows(rows)
        print(name, len(rows))
    corpus = [" ".join(text.split()) for text, _ in train[n_train + n_val :]][: SIZES["unlabelled"]]
    (out / "unlabelled.txt").write_text("\n".join(corpus) + "\n", encoding="utf-8", newline="\n")
    print("unlabelled", len(corpus))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
