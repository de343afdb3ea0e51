"""The MQTT wire contract between meters and ingest: topics, uplink schema, alarm flags, codec.

Neutral ground: ingest, analytics and the simulators import it; it imports nothing of ours.
"""
