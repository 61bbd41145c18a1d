from django import template

from audiences import selectors

register = template.Library()


@register.filter
def phone_for(phone, user):
    """The phone as this user may see it: masked for every role but head office."""
    return selectors.phone_for(user, phone or "")
