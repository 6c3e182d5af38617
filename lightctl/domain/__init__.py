"""Pure rules of the product: delivery states, priorities. Imports nothing heavy."""
