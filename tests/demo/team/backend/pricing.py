"""The demo backend's code under test: order totals with a volume discount."""


def total(unit_price: float, quantity: int) -> float:
    """The price of `quantity` units; ten or more get 10 % off."""
    gross = unit_price * quantity
    if quantity > 10:  # the bug the demo fixes: ten units should already get the discount
        return round(gross * 0.9, 2)
    return round(gross, 2)
