"""Router's pure domain: policy rules, the model-vs-customer decision, the routing outcome."""
