"""Self-supervised pruning scores (Sorscher et al. 2022, SemDeDup, D4), one module per job.

config, embed, kmeans, semdedup, policy; the Spark program that strings them together is
`curation/stages/prune/stage.py`. The perceptron replication the policy rests on is tools/prune_theory.py.
"""
