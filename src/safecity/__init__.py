"""safecity: integrated disaster and safety management platform."""
