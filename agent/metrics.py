"""The agent's Prometheus counters for production Bedrock: cache use, failovers, guardrails, cost.

Labels are model ids from the configuration (never a client's string), so the series stay few.
Summed over workers by PROMETHEUS_MULTIPROC_DIR like the request metrics (api/observability.py).
"""
from prometheus_client import Counter

CACHE_TOKENS = Counter("fintalk_bedrock_cache_tokens", "Prompt tokens read from or written to Bedrock's cache.",
                       ["kind"])
FAILOVERS = Counter("fintalk_bedrock_failovers",
                    "Model calls that went to the next model before the first word, by the model left and why "
                    "(throttled, unavailable, timeout, unreachable, cooling).", ["model", "reason"])
GUARDRAIL_INTERVENTIONS = Counter("fintalk_bedrock_guardrail_interventions",
                                  "Turns a Bedrock guardrail ended, by answering model.", ["model"])
COST = Counter("fintalk_bedrock_cost_usd", "What the turns' tokens cost at BEDROCK_PRICES, by answering model.",
               ["model"])
ANSWERED = Counter("fintalk_bedrock_turns", "Turns by the model that answered them (after any failover).", ["model"])
