"""The auditor's HTML report, rendered from results.json (and the catalog).

    python -m hvconform report reports/<run-id>/results.json -o report.html

model.py computes what the report says (compliance, heatmap, waivers, drift,
traceability); html.py lays it out in one self-contained file (`html.write`). A run
writes reports/<run-id>/report.html at its end (hvconform/deliver/run_folder.py); the
command re-renders any results.json, e.g. one taken from a bundle or a replay.
"""
