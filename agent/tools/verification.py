"""Verification tools (bank.verification): a one-time code to the registered phone, or the security questions."""
from asgiref.sync import sync_to_async

from agent.context import current_turn_context
from agent.tools.base import bank_tool, record, session
from bank import verification
from bank.verification import PHONE_LINE, VERIFIED, CodeOutcome


@bank_tool(PHONE_LINE)
async def send_verification_code() -> str:
    """Text a six-digit one-time code to the caller's registered phone, to verify who they are.
    Needed before balances, transactions, disputes, replacement cards and payments."""
    outcome = await sync_to_async(verification.code_send)(session())
    record("send_verification_code", outcome.value)
    if outcome is CodeOutcome.ALREADY_VERIFIED:
        current_turn_context().facts.verification_level = VERIFIED
        return "You're already verified on this call, so there's no need for a code."
    if outcome is CodeOutcome.SEND_FAILED:
        return ("I couldn't send a code to your phone just now. I can verify you with three security questions "
                "instead: your date of birth, the last four digits of one of your cards, and the amount of your most "
                "recent transaction. Or I can put you through to a person.")
    return ("I've sent a six-digit code to your registered phone. Please read it to me, or type it on your "
            "keypad. It expires in five minutes.")


@bank_tool(PHONE_LINE)
async def verify_code(code: str) -> str:
    """Check the six-digit one-time code the caller read back or typed on the keypad.

    code: the six digits exactly as the caller gave them.
    """
    context = current_turn_context()
    if code:
        context.facts.secrets.append(str(code))
    outcome = await sync_to_async(verification.code_check)(session(), str(code or ""))
    record("verify_code", outcome.value)
    if outcome in (CodeOutcome.VERIFIED, CodeOutcome.ALREADY_VERIFIED):
        context.facts.verification_level = VERIFIED
        return "Thank you, you're verified. What would you like to do?"
    if outcome is CodeOutcome.INVALID:
        return "A code is six digits, with no letters. Could you read it to me again?"
    if outcome is CodeOutcome.NO_CODE:
        return "That code has expired or was already used. Shall I send you a new one?"
    return "That code isn't right. Please check the text message and read me the six digits again."


@bank_tool(PHONE_LINE)
async def verify_security_answers(date_of_birth: str, card_last4: str, last_transaction_amount: str) -> str:
    """Verify the caller with security questions, when a one-time code can't be used. Ask all three first.

    date_of_birth: the caller's date of birth, as YYYY-MM-DD.
    card_last4: the last four digits of one of the caller's cards.
    last_transaction_amount: the amount of the caller's most recent transaction, e.g. 4.75.
    """
    right = await sync_to_async(verification.security_answers_check)(
        session(), date_of_birth=date_of_birth or "", card_last4=card_last4 or "",
        last_transaction_amount=last_transaction_amount or "")
    record("verify_security_answers", "verified" if right else "wrong")
    if right:
        current_turn_context().facts.verification_level = VERIFIED
        return "Thank you, you're verified. What would you like to do?"
    return "I'm sorry, those answers don't match our records, so I can't verify you that way."


