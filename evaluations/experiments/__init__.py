"""Pure decision code for online comparisons of model versions: canary releases, shadow mode,
interleaving and multi-armed bandits, judged after every window with error rates that hold
however often anyone looks.

arms (cumulative aggregates) -> sequential (confidence sequences), srm (traffic split) ->
canary, shadow, interleaving, bandit (one policy each) -> decision (what they hand back).
"""
