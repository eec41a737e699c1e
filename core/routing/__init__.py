"""Model-routing what-if simulator over grouped traffic, and plan-vs-actual variance.

Traffic arrives *grouped*: one row per (model, project, feature, status, batch, input-token
bucket, output-token bucket) with a request count and token sums, so a month of 10M requests is
a few thousand rows. Rules are ordered and the first match wins. A rule's actions:

- route `share` of the matched requests to `target` (requests whose prompt is larger than the
  target's context window cannot move: they are counted, not moved);
- `escalation`: a cascade, the share of routed requests that fail on the target and are re-run
  on the original model, so both calls are paid;
- `batch_share`: move a share of the matched real-time requests to the Batch API;
- `cache_uplift_points`: raise the cache-hit share of input tokens by that many points.

Cost is linear in token sums, so groups are summed per price key and every key is priced at
once by `core.costs.price_usage`, the kernel that prices stored events, in exact integer
pico-dollars. Long-context tiers are chosen per group from the mean input tokens per request
(exact when the group's bucket lies on one side of the tier edge) and handed to the kernel as
its `tier_input`.

One module a concern: `rules` (parsing and checking rules), `traffic` (grouped-traffic
columns, cut points, planned traffic), `matching` (which rows a rule takes), `pricing`
(grouped traffic through the kernel), `simulation` (`simulate`), `ledger` (what a simulation
found), `suggestions`, `variance` (plan vs actual), `frames` (model choices, the export table)
and `units` (exact Decimal constants). Import from `core.routing`.
"""

from core.routing.frames import export_frame, model_choices
from core.routing.ledger import RuleResult, Simulation
from core.routing.matching import assign_rules, match_mask
from core.routing.rules import (
    Rule,
    RuleError,
    check_rules,
    make_rule,
    parse_rule,
    routing_problem,
    rule_from_form,
    target_problem,
)
from core.routing.simulation import simulate
from core.routing.suggestions import Suggestion, spend_order, suggest, target_choices
from core.routing.traffic import (
    INPUT_CUTS,
    LABELS,
    OUTPUT_CUTS,
    TOKEN_COLUMNS,
    TRAFFIC_COLUMNS,
    cut_points,
    empty_traffic,
    match_labels,
    plan_traffic,
    traffic_from_plan,
)
from core.routing.units import (
    DAYS_PER_MONTH,
    HUNDRED,
    ONE,
    PICO,
    PREC,
    SHARE_QUANTUM,
    ZERO,
)
from core.routing.variance import VARIANCE_STEPS, Variance, plan_vs_actual

__all__ = [
    "DAYS_PER_MONTH",
    "HUNDRED",
    "INPUT_CUTS",
    "LABELS",
    "ONE",
    "OUTPUT_CUTS",
    "PICO",
    "PREC",
    "SHARE_QUANTUM",
    "TOKEN_COLUMNS",
    "TRAFFIC_COLUMNS",
    "VARIANCE_STEPS",
    "ZERO",
    "Rule",
    "RuleError",
    "RuleResult",
    "Simulation",
    "Suggestion",
    "Variance",
    "assign_rules",
    "check_rules",
    "cut_points",
    "empty_traffic",
    "export_frame",
    "make_rule",
    "match_labels",
    "match_mask",
    "model_choices",
    "parse_rule",
    "plan_traffic",
    "plan_vs_actual",
    "routing_problem",
    "rule_from_form",
    "simulate",
    "spend_order",
    "suggest",
    "target_choices",
    "target_problem",
    "traffic_from_plan",
]
