from django.forms.renderers import TemplatesSetting


class BootstrapFormRenderer(TemplatesSetting):
    """Renders every form ({{ form }}) with Bootstrap markup and errors beside fields."""

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
