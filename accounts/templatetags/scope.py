"""Template access to the permission helper: ``{% can "approve" campaign as ok %}``."""

from django import template

from accounts import permissions

register = template.Library()


@register.simple_tag(takes_context=True)
def can(context, verb, obj=None):
    return permissions.can(context["request"].user, verb, obj)
