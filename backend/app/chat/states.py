from app.realtime.registry import StateRouter

states = StateRouter()
