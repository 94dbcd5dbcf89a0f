"""Rules, events, policy and delivery: the layer every other part of Steward stands on."""
