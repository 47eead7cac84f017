"""Rehearsals: every flow of the bank's phone line tested as a conversation before a change ships.

Scenario files (YAML, `scenarios/`) say who calls, what they say (or a persona and goal for a
simulated caller on Bedrock) and what must hold afterwards; `python -m rehearse run scenarios/`
drives a Fintalk over its OpenAI API as Vapi would and checks the words, the tools in the call
records, the bank's records and the time to first word. Results are kept (models.py) and shown
in the console (views.py). README: "Test a change before you ship it".
"""
