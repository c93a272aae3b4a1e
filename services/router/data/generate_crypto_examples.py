"""Write crypto_examples.csv: customer-style requests for the intents BANKING77 lacks.

Deterministic (fixed seed, no clock, no network): hand-written request cores per intent,
filled with coins / networks / amounts, optionally wrapped in a greeting, a ticket subject
line, an extra detail or a closing, and sometimes roughed up with typos or lower case, the
way people type into a help-centre form. The wrappers and many words (2FA, withdrawal,
deposit, e-mail, order, app...) are shared between intents on purpose, so that no single
token gives an intent away.

    uv run python services/router/data/generate_crypto_examples.py
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path

SEED = 20240611
PER_INTENT = 60
OUTPUT = Path(__file__).with_name("crypto_examples.csv")

FILL: dict[str, tuple[str, ...]] = {
    "coin": (
        "BTC",
        "ETH",
        "USDT",
        "XRP",
        "XLM",
        "SOL",
        "LTC",
        "TRX",
        "DOGE",
        "ADA",
        "USDC",
        "bitcoin",
        "ethereum",
        "tether",
        "litecoin",
        "ripple",
        "MATIC",
        "BNB",
    ),
    "net": (
        "ERC20",
        "TRC20",
        "BEP20",
        "Solana",
        "Polygon",
        "Arbitrum",
        "BSC",
        "Tron",
        "the Ethereum network",
        "Lightning",
    ),
    "net2": ("ERC20", "TRC20", "BEP20", "Polygon", "Optimism", "Base"),
    "amount": (
        "0.05",
        "0.2",
        "1.5",
        "250",
        "1,000",
        "3200",
        "0.0031",
        "75",
        "12,500",
        "40",
        "0.8",
        "500",
    ),
    "time": (
        "3 hours",
        "two days",
        "since yesterday",
        "over 24 hours",
        "6 hours",
        "a week",
        "45 minutes",
        "2 days",
        "since Monday",
        "almost 10 hours",
    ),
    "n": ("3", "12", "30", "64", "100", "200"),
    "hash": (
        "0x9f3c1a7be2d04c5f8a61b7e3d2c94f0a1b6e8d7c5a3f2e1d0c9b8a7f6e5d4c3b",
        "a7c3e91f04b2d6587e1c9a0f3b5d7e2c4a6f8b0d1e3c5a7f9b2d4e6f8a0c1e3f",
        "5E8C1F0A9B3D7E2F4A6C8B0D1E3F5A7C9B2D4E6F8A0C1E3F5A7B9C2D4E6F8A01",
        "0x4be1...c29f",
        "3f9a7c...e10b",
        "0xd00d5e7a8f6c4b2a1e3d5c7b9a0f2e4d6c8b1a3f",
    ),
    "exchange": (
        "Binance",
        "Coinbase",
        "Kraken",
        "my Trust Wallet",
        "MetaMask",
        "my Ledger",
        "Exodus",
        "Bybit",
        "KuCoin",
        "another exchange",
        "my hardware wallet",
    ),
    "pair": (
        "BTC/USD",
        "ETH/EUR",
        "XRP/USDT",
        "SOL/USD",
        "BTC/EUR",
        "ETH/BTC",
        "LTC/USD",
        "ADA/USDT",
    ),
    "price": ("$61,200", "42000", "1850 EUR", "0.52", "$3,100", "149.5"),
    "code": ("500", "403", "1002", "E-17", "429", "0x0003", "502", "ERR_NETWORK", "401"),
    "device": (
        "iPhone 13",
        "Samsung Galaxy S21",
        "Pixel 7",
        "iPad",
        "Xiaomi",
        "Android phone",
        "MacBook",
        "Windows laptop",
    ),
    "browser": ("Chrome", "Firefox", "Safari", "Edge", "Opera", "Brave"),
    "auth": (
        "Google Authenticator",
        "Authy",
        "the authenticator app",
        "Microsoft Authenticator",
        "my 2FA app",
    ),
    "mail": ("gmail", "outlook", "yahoo", "hotmail", "protonmail", "icloud"),
    "bot": (
        "3Commas",
        "my Python bot",
        "Hummingbot",
        "CoinTracking",
        "Koinly",
        "a trading bot",
        "my script",
    ),
}

GREETINGS = (
    "Hi,",
    "Hello,",
    "Hello support,",
    "Hi team,",
    "Good morning,",
    "Hey,",
    "Dear support,",
    "Hi there,",
    "Good evening.",
    "Hello, hope you can help.",
)
CLOSINGS = (
    "Thanks.",
    "Thank you!",
    "Please help.",
    "Please advise.",
    "Thanks in advance",
    "Waiting for your answer.",
    "Regards",
    "Help please!!",
    "This is urgent.",
    "Can someone look at this asap?",
    "Thx",
    "I would appreciate a quick reply.",
    "Best regards, Anna",
    "Thank you for your help, Mark",
)
SHARED_DETAILS = (
    "I've attached a screenshot.",
    "I already tried logging out and in again.",
    "This is the second time I'm writing about this.",
    "I'm using the app on my {device}.",
    "Nobody answered my previous ticket.",
    "I really need this sorted today.",
    "It worked fine last week.",
    "I read the help article but it didn't help.",
    "My account is verified.",
    "I have been a customer for 3 years.",
)


@dataclass(frozen=True)
class Intent:
    name: str
    team: str
    cores: tuple[str, ...]
    subjects: tuple[str, ...]
    details: tuple[str, ...]


INTENTS: tuple[Intent, ...] = (
    Intent(
        "disable_2fa",
        "security",
        cores=(
            "I lost my phone and can't get the 2FA codes anymore, how do I disable two-factor "
            "authentication?",
            "Please reset my 2FA, I got a new phone and {auth} didn't transfer the accounts.",
            "{auth} codes keep getting rejected when I try to log in.",
            "How can I turn off 2FA on my account?",
            "I deleted the authenticator app by mistake and now I'm locked out.",
            "My phone was stolen and my 2FA was on it. I need to get back into my account.",
            "The 6 digit code is always wrong, I already checked the time settings on my phone.",
            "I factory reset my phone and lost all my authenticator codes.",
            "Need to disable two factor authentication, I don't have the old device anymore.",
            "I never saved the backup key for 2FA and now my phone is broken.",
            "Can't sign in because it asks for a 2FA code and I changed phones.",
            "I switched from Android to iPhone and my authenticator is empty.",
            "What documents do you need to remove 2FA from my account?",
            "Sent the selfie with my ID for the 2FA reset, how long will it take?",
            "2FA code invalid every time",
            "lost access to authenticator",
            "How do I move my two-step verification to a new phone?",
            "My screen is smashed so I can't open {auth} to get the code.",
            "I'm stuck on the two-factor screen and can't log in.",
            "The SMS code never arrives, I no longer have that phone number.",
            "I want to recover access to my account, the device with the 2FA is gone.",
            "Can you switch off the 2-step verification so I can set it up again?",
            "The authenticator shows a code but the site says it's incorrect.",
            "I reinstalled {auth} and my account is not in there anymore.",
            "Lost my phone on holiday, cannot log in without 2fa.",
            "Is there a way to log in without the authenticator code?",
            "I need to reset my two factor, which ID photos should I attach?",
            "My old phone died and my 2FA was on it.",
            "2FA reset request, I have attached my passport and a selfie.",
            "How long does it take to disable 2FA after I send the photos?",
            "I have my password but not the 2fa code.",
            "Got a new {device} and forgot to move the authenticator before wiping the old one.",
            "Where is the form to recover an account when you lost your 2FA?",
            "my two factor app was on my work phone and I left that job",
        ),
        subjects=(
            "2FA reset",
            "Lost authenticator",
            "Can't log in - 2FA",
            "Disable two-factor authentication",
            "Recover account access",
            "new phone",
        ),
        details=(
            "I can still log in with my password.",
            "I have my passport ready for the selfie.",
            "The last time I logged in was {time} ago.",
            "I don't have the backup code.",
        ),
    ),
    Intent(
        "disable_wpc",
        "security",
        cores=(
            "I forgot my withdrawal protection code, how can I reset it?",
            "Please disable the WPC on my account.",
            "What is the WPC and why does it ask for it when I withdraw?",
            "I can't withdraw because I don't remember the protection code.",
            "withdrawal code forgotten",
            "How do I turn off the withdrawal protection code?",
            "It keeps saying the withdrawal protection code is wrong.",
            "I set a WPC years ago and have no idea what it is.",
            "I need to remove the protection code for withdrawals, attaching my ID photos.",
            "Can I change my withdrawal protection code myself?",
            "Withdrawals are locked after I entered the wrong code 5 times.",
            "The withdrawal page asks for a code I don't remember setting up.",
            "reset wpc please",
            "Where do I disable WPC in the settings?",
            "My WPC isn't accepted when I try to send {coin}.",
            "Lost the paper with my withdrawal protection code written on it.",
            "What photos do you need to disable the withdrawal code?",
            "I want to withdraw {coin} but I forgot the extra code for withdrawals.",
            "Can you reset the security code for withdrawals? I'm the account owner.",
            "Is the withdrawal protection code the same thing as my 2FA?",
            "I'd like to deactivate WPC, it's too much hassle every time.",
            "the withdraw code field won't accept my code",
            "Forgot WPC, cannot take my money out",
            "My withdrawal is stuck on the step asking for the protection code.",
            "How long does a WPC reset take once I upload my passport?",
            "Please remove the withdrawal protection, I have sent the selfie with my ID.",
            "How do I recover the PIN I have to type for crypto withdrawals?",
            "I need to change the code I enter when withdrawing.",
            "The withdrawal protection code was set by my son and he doesn't remember it.",
            "wpc wrong, i'm sure i typed it right",
            "Your system says incorrect WPC but I saved it in my password manager.",
        ),
        subjects=(
            "WPC reset",
            "Forgot withdrawal protection code",
            "Disable WPC",
            "Withdrawal code",
            "Can't withdraw - protection code",
        ),
        details=(
            "I want to withdraw {amount} {coin}.",
            "My 2FA works fine, it's only the withdrawal code.",
            "I can send ID photos today.",
            "I tried {n} times already.",
        ),
    ),
    Intent(
        "change_account_email",
        "account",
        cores=(
            "How do I change the email address on my account?",
            "I no longer have access to my old email, can you update it?",
            "Please change my registered email to my new {mail} address.",
            "My email account was deleted, I need to change the login email.",
            "I want to switch my account email from {mail} to gmail.",
            "I can't receive your emails anymore because my work email was closed.",
            "Update my e-mail address please",
            "What documents do I need to change my email?",
            "change email",
            "My old mail provider shut down, how can I log in with a new address?",
            "I typed the wrong email when I signed up.",
            "Can I use a different email for my account?",
            "I've attached my ID and a selfie for the email change.",
            "I want to replace the email address linked to my account.",
            "The email on my profile is from my old company, please change it.",
            "How long does an email change request take?",
            "I can't change the email in settings, the field is greyed out.",
            "Lost access to the email I registered with.",
            "I need to update my contact email and my phone number.",
            "Is it possible to change my login email without access to the old one?",
            "Please move my account to a new email address.",
            "Your notifications go to an address I don't use anymore.",
            "how to change mail adress",
            "I'd like my account email changed to my personal one.",
            "Old email was {mail}, new one is on {mail} too, just a different name.",
            "I forgot the password of the email I used to register here.",
            "Can I change the email without sending ID photos?",
            "My university email expired and that's my login.",
            "Where in the profile can I edit my e-mail?",
            "I need the account email changed, the old inbox was closed by my provider.",
        ),
        subjects=(
            "Change email",
            "Email change request",
            "New e-mail address",
            "Update login email",
            "Lost access to my email",
        ),
        details=(
            "I can still log in to the account.",
            "I have my passport for the ID photos.",
            "I don't have access to the old inbox anymore.",
            "My 2FA still works.",
        ),
    ),
    Intent(
        "several_accounts",
        "account",
        cores=(
            "I have two accounts, can I merge them?",
            "I accidentally created a second account with another email.",
            "I got an email saying I have several accounts and it's against the terms, what do "
            "I do?",
            "How do I move my balance from my old account to my new one?",
            "Can I have a separate account for my company?",
            "I opened a new account because I forgot the password of the old one.",
            "Which account should I keep? One is verified and the other isn't.",
            "Can you transfer funds between my two accounts?",
            "I registered twice by mistake.",
            "close my duplicate account please",
            "My old account still has some {coin}, how do I get it into my main account?",
            "Can I verify my second account with the same passport?",
            "Am I allowed to have more than one account?",
            "What happens to the account I don't use anymore?",
            "I have 3 accounts and I want to keep just one.",
            "Received a warning about multiple accounts, I want to consolidate.",
            "Verification on my new account fails, it says the documents are already used.",
            "I made one account with my work email and one with my personal email.",
            "Is there a storage fee on abandoned accounts?",
            "The other account has a small balance below the minimum withdrawal.",
            "how to consolidate balances into one account",
            "I lost access to my first account and made a new one, can I get the funds from "
            "the old one?",
            "Can I combine my accounts into one?",
            "Why can't I use my email for a second profile?",
            "My brother used my documents for his account by mistake, now I can't verify mine.",
            "You blocked my account for having another account, but it was my old one.",
            "Can my personal and business accounts both stay open?",
            "I want to close one of my two accounts and keep the verified one.",
            "Is it ok to have an account for trading and one for savings?",
            "I forgot I already had an account from 2017 and signed up again.",
        ),
        subjects=(
            "Two accounts",
            "Merge accounts",
            "Duplicate account",
            "Several accounts",
            "Old account balance",
        ),
        details=(
            "The old one has about {amount} {coin} on it.",
            "Only one of them is verified.",
            "I still have access to both emails.",
            "I didn't know it was against the terms.",
        ),
    ),
    Intent(
        "account_takeover",
        "security",
        cores=(
            "Someone logged into my account and withdrew all my {coin}.",
            "I think my account was hacked, my password was changed.",
            "I got an email about a login from a device I don't recognise.",
            "I entered my password on a fake site that looked exactly like yours.",
            "My balance is gone and I didn't make any withdrawals.",
            "Somebody changed my 2FA and my email and now I'm locked out.",
            "There is a withdrawal to an address I don't know.",
            "Please freeze my account immediately, it's been compromised.",
            "Got a text message asking me to confirm my wallet, is it a scam?",
            "Someone is trying to reset my password, I keep getting codes I didn't ask for.",
            "A person on Telegram pretending to be support asked for my 2FA code and I gave it.",
            "I clicked a link in an email and now my funds are missing.",
            "There's a new API key on my account that I didn't create.",
            "Unknown login from another country in my account activity.",
            "My crypto was stolen from my account.",
            "Block my account please, my laptop had a virus.",
            "I received a withdrawal confirmation email that I didn't request.",
            "hacked account pls help",
            "Phishing email pretending to be you, asking me to verify my account.",
            "Someone placed orders on my account that I never made.",
            "My withdrawal address whitelist was changed and it wasn't me.",
            "I let a 'support agent' control my screen with AnyDesk and lost my coins.",
            "Is this email really from you or is it phishing?",
            "My account was accessed from an IP address I don't know.",
            "I didn't authorise this withdrawal of {amount} {coin}.",
            "Somebody sold all my coins for USDT and sent them out.",
            "I can't log in and my balance shows zero, someone got in.",
            "Scammers on WhatsApp have my account details, what should I do?",
            "My SIM card was swapped and now someone is using my account.",
            "An unknown device was added to my trusted devices.",
        ),
        subjects=(
            "URGENT hacked",
            "Unauthorised withdrawal",
            "Account compromised",
            "Suspicious login",
            "Phishing",
            "Funds stolen",
        ),
        details=(
            "It happened {time} ago.",
            "The address it went to is not mine.",
            "I changed my password right away.",
            "I never shared my password with anyone.",
        ),
    ),
    Intent(
        "crypto_deposit_not_credited",
        "payments-deposits",
        cores=(
            "I sent {amount} {coin} to my deposit address {time} ago and it's still not in my "
            "balance.",
            "Deposit not credited",
            "I forgot to include the destination tag for my XRP deposit.",
            "Sent XLM without the memo, how do I get it back?",
            "My {coin} deposit has {n} confirmations but still shows pending.",
            "I sent USDT on {net} but the deposit address was for {net2}.",
            "The transaction is confirmed on the blockchain but not in my account. TXID {hash}",
            "Where is my deposit? It's been {time}.",
            "How many confirmations do you need for a {coin} deposit?",
            "I deposited to an old address, will it still arrive?",
            "I sent crypto from {exchange}, they say it's completed, you don't show it.",
            "wrong network deposit",
            "I deposited a token you don't support, can you return it?",
            "My ETH deposit arrived but the amount is smaller than what I sent.",
            "The deposit address changed and I sent to the previous one.",
            "I sent {coin} over Lightning and it's not showing.",
            "Deposit stuck at 0/{n} confirmations.",
            "Can you credit my missing deposit? Here is the hash {hash}",
            "I transferred {coin} from {exchange} but nothing shows up.",
            "I sent less than the minimum deposit, is it lost?",
            "Deposited BNB via BEP20 to my BNB address, where is it?",
            "Deposit of {coin} pending for {time}.",
            "My wallet says the deposit is completed but my balance here is 0.",
            "Do I need a memo for {coin} deposits? I didn't add one.",
            "Sent SOL to my deposit address yesterday, still nothing.",
            "I sent {amount} USDT TRC20, the explorer says success.",
            "crypto not arrived in my account",
            "I topped up with {coin} from {exchange} but my balance didn't update.",
            "Generated a new deposit address and the coins went to the old one.",
            "deposit missing, tx hash {hash}",
        ),
        subjects=(
            "Missing deposit",
            "Deposit not credited",
            "Crypto deposit pending",
            "Forgot memo/tag",
            "Deposit wrong network",
            "Where is my {coin}?",
        ),
        details=(
            "TXID: {hash}",
            "I sent it from {exchange}.",
            "It's been {time}.",
            "The explorer shows {n} confirmations.",
            "The network was {net}.",
        ),
    ),
    Intent(
        "crypto_withdrawal_pending",
        "withdrawals-transfers",
        cores=(
            "My {coin} withdrawal has been pending for {time}.",
            "Withdrawal still processing, no tx hash yet.",
            "I withdrew to the wrong network, can you help recover it?",
            "My withdrawal failed but the money left my balance.",
            "The withdrawal says completed but my wallet hasn't received it.",
            "Why was my withdrawal cancelled?",
            "I sent USDT to my {exchange} address but forgot the memo.",
            "Withdrawal stuck 'under review'.",
            "Can I cancel a pending crypto withdrawal?",
            "I put the wrong address in my withdrawal.",
            "Where can I find the transaction hash for my withdrawal?",
            "withdrawal not arrived",
            "My withdrawal is waiting for approval for {time}.",
            "Withdrawal of {amount} {coin} failed with an error.",
            "Sent ETH to {exchange}, the explorer shows nothing.",
            "Are withdrawals on TRC20 disabled?",
            "How long do BTC withdrawals usually take?",
            "{exchange} says they didn't get my XRP, and the tag was included.",
            "I withdrew to MetaMask on {net} and it hasn't shown up.",
            "I chose BEP20 instead of ERC20 when withdrawing.",
            "Is there a problem with {coin} withdrawals right now?",
            "My withdrawal got rejected, what does that mean?",
            "Withdrawal status says processing for {time}.",
            "Sent {coin} out, tx id {hash}, not in my wallet.",
            "I want to send my crypto to {exchange} but the withdraw button gives an error.",
            "withdrawal sent to the wrong chain, funds lost?",
            "My crypto withdrawal was returned to my balance, why?",
            "The recipient says my {coin} never arrived, can you give me the TXID?",
            "I withdrew {amount} {coin} {time} ago and nothing happened.",
            "Withdrawal is marked as failed but I can't see the coins back.",
        ),
        subjects=(
            "Withdrawal pending",
            "Withdrawal not received",
            "Withdrawal failed",
            "Wrong network withdrawal",
            "Where is my withdrawal?",
        ),
        details=(
            "The address is correct, I checked twice.",
            "I withdrew to {exchange}.",
            "The network was {net}.",
            "TX hash: {hash}",
            "It's been {time}.",
        ),
    ),
    Intent(
        "trading_order_issue",
        "trading-exchange",
        cores=(
            "My limit order to buy {coin} at {price} wasn't filled even though the price went "
            "below.",
            "My market order executed at a much worse price than shown.",
            "Why was my order cancelled automatically?",
            "I can't cancel my open order.",
            "My stop loss didn't trigger.",
            "My margin position got liquidated and I didn't get a margin call.",
            "Order stuck as partially filled.",
            "My funds are locked in an order I can't see.",
            "How do I place a stop-limit order?",
            "The buy button is greyed out for {pair}.",
            "I get a minimum order size error when selling {coin}.",
            "My sell order disappeared from the order book.",
            "Why did my market buy only get me half the amount?",
            "The {pair} pair is not available anymore.",
            "I placed an order by mistake, can you reverse the trade?",
            "My leveraged position was closed without any action from me.",
            "My stop was triggered at a price that never appeared on the chart.",
            "limit order not executing",
            "My order history is empty, where are my trades?",
            "Instant buy gave me a terrible rate for {coin}.",
            "Open orders are reserving my balance and I can't withdraw.",
            "The convert quote expires every time I click confirm.",
            "I can't open a short position on {pair}.",
            "The slippage on my market order was huge.",
            "Sold {amount} {coin} at market and received way less USD than expected.",
            "My take profit order on {pair} was never executed.",
            "Why was my order rejected with 'insufficient margin'?",
            "The trade went through twice, I only clicked once.",
            "How do I close a margin position?",
            "My OCO order cancelled both sides.",
        ),
        subjects=(
            "Order not filled",
            "Limit order problem",
            "Trade executed wrong",
            "Margin liquidation",
            "Order cancelled",
            "{pair} order",
        ),
        details=(
            "The pair was {pair}.",
            "I placed it {time} ago.",
            "My limit price was {price}.",
            "The order was for {amount} {coin}.",
        ),
    ),
    Intent(
        "app_or_website_error",
        "technical",
        cores=(
            "The app crashes every time I open it.",
            "The login page shows a blank screen.",
            "I get error code {code} when I try to log in.",
            "The website keeps loading forever.",
            "After the update the app won't start on my {device}.",
            "I can't upload my documents, the upload button does nothing.",
            "Charts are not loading on the trading page.",
            "Screenshot attached: 'Something went wrong' on the deposit page.",
            "The captcha doesn't load so I can't sign in.",
            "Page not found when I click the link in your email.",
            "Getting 'Internal server error' on the withdraw page.",
            "The app logs me out every few minutes.",
            "My balance shows 0 in the app but it's correct on the website.",
            "Your site doesn't work in {browser}.",
            "Push notifications stopped working on my phone.",
            "The app freezes on the splash screen.",
            "When I press confirm nothing happens.",
            "The website is very slow today, is there an outage?",
            "I can't download my transaction history, the export fails.",
            "Error {code} bad gateway",
            "The QR code for my deposit address doesn't display.",
            "The app is stuck on 'connecting'.",
            "{browser} says the connection to your site is not secure.",
            "Face ID login stopped working after the iOS update.",
            "The verify button on the KYC page is spinning forever.",
            "site down?",
            "The page goes white after I enter my 2FA code.",
            "Buttons overlap on my {device} and I can't press continue.",
            "I get 'unknown error, try again later' whenever I open the wallet tab.",
            "The app shows a different language and I can't change it back.",
            "Your website shows error {code} in {browser} and Edge.",
        ),
        subjects=(
            "App not working",
            "Website error",
            "Bug",
            "Error {code}",
            "Technical problem",
            "Login page broken",
            "App crash",
        ),
        details=(
            "I'm on {browser}, latest version.",
            "I'm using a {device}.",
            "I cleared the cache and reinstalled the app.",
            "The error code is {code}.",
            "It started {time} ago.",
        ),
    ),
    Intent(
        "api_keys",
        "technical",
        cores=(
            "How do I create an API key?",
            "My API key returns 'invalid signature'.",
            "My API keys stopped working after I enabled 2FA.",
            "Getting 'nonce too small' errors from the API.",
            "What permissions does my API key need to place orders?",
            "I want to delete an old API key.",
            "Rate limit exceeded on the REST API.",
            "The WebSocket connection drops every minute.",
            "{bot} can't connect to my account.",
            "The IP whitelist for my API key is not saving.",
            "My API key doesn't have withdrawal permission.",
            "Is there a sandbox environment for the API?",
            "The API returns 403 Forbidden.",
            "{bot} gets 'permission denied' when withdrawing through the API.",
            "How do I connect my account to a portfolio tracker like {bot}?",
            "Where do I find my API secret? I only see the key.",
            "I lost my API secret.",
            "The order endpoint returns 'Insufficient funds' though I have balance.",
            "My requests are rejected with 'request expired', timestamps are off?",
            "Can I have more than one API key?",
            "My tax software needs read-only API access.",
            "My API key got disabled automatically.",
            "{bot} says the API key is invalid.",
            "Does the API support margin trading?",
            "The Python client gets SSL errors when calling your API.",
            "api key not working",
            "How do I sign requests for the private API endpoints?",
            "Which API endpoint gives my trade history?",
            "I regenerated my API key and {bot} still uses the old one.",
            "Webhook / websocket for order updates not sending anything.",
        ),
        subjects=(
            "API key",
            "API problem",
            "API error {code}",
            "Trading bot connection",
            "API access",
        ),
        details=(
            "I'm using {bot}.",
            "The key has trade permissions.",
            "The error code is {code}.",
            "It started {time} ago.",
        ),
    ),
)


def _fill(template: str, rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(FILL[m.group(1)]), template)


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # swap two neighbours
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    if kind == 1:  # drop one
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]  # double one


def _rough(text: str, rng: random.Random) -> str:
    if rng.random() < 0.3:
        words = text.split(" ")
        for _ in range(rng.choice((1, 1, 2))):
            j = rng.randrange(len(words))
            words[j] = _typo(words[j], rng)
        text = " ".join(words)
    if rng.random() < 0.2:
        text = text.lower()
    if rng.random() < 0.15:
        text = text.rstrip(".!?")
    return text


def _example(intent: Intent, core: str, rng: random.Random) -> str:
    body = _fill(core, rng)
    shape = rng.random()
    if shape < 0.35:  # just the request, as typed
        return _rough(body, rng)
    parts: list[str] = []
    if rng.random() < 0.3:
        parts.append(rng.choice(GREETINGS))
    parts.append(body)
    if rng.random() < 0.55:
        parts.append(_fill(rng.choice(intent.details), rng))
    if rng.random() < 0.2:
        parts.append(_fill(rng.choice(SHARED_DETAILS), rng))
    if rng.random() < 0.3:
        parts.append(rng.choice(CLOSINGS))
    text = _rough(" ".join(parts), rng)
    if shape > 0.8:  # a ticket: subject line, then the description
        text = f"{_fill(rng.choice(intent.subjects), rng)}\n{text}"
    return text


def generate(seed: int = SEED, per_intent: int = PER_INTENT) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not security
    rows: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for intent in INTENTS:
        made, attempt = 0, 0
        while made < per_intent and attempt < per_intent * 20:
            # Every core once before any core twice, then at random.
            core = (
                intent.cores[attempt] if attempt < len(intent.cores) else rng.choice(intent.cores)
            )
            attempt += 1
            text = _example(intent, core, rng)
            key = text.lower()
            if key in seen:
                continue
            seen.add(key)
            rows.append((text, intent.name, intent.team))
            made += 1
    return rows


def main() -> None:
    rows = generate()
    with OUTPUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("text", "intent", "team"))
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUTPUT}")


if __name__ == "__main__":
    main()
