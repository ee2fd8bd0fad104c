"""The compiler: from a graph and what a run needs to a Plan."""

from graphnet.compiler.lowering import build_plan as build_plan, prune as prune
from graphnet.compiler.plan import Buffer as Buffer, Plan as Plan, Step as Step
