"""The offline demo model (`FINTALK_LLM=demo`): deterministic rules that stand in for Bedrock.

Its own app, above the agent: it reads the Converse requests the agent would send to Bedrock and
answers with the same events. It plugs itself into the agent in `DemoConfig.ready`
(`agent.models.register_stream`), so the agent never imports it.
"""
