"""Files for other systems: 360Giving, beancount and the journal as CSV."""
