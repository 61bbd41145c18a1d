import factory

from accounts import services
from accounts.models import Branch, Role, User

PASSWORD = "correct-horse-battery"


class BranchFactory(factory.django.DjangoModelFactory):
    """Branches go through the service, so their tree path is real."""

    class Meta:
        model = Branch

    code = factory.Sequence(lambda n: f"B{n:04d}")
    name = factory.Sequence(lambda n: f"Branch {n}")
    parent = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        parent = kwargs.get("parent")
        if parent is None:
            parent = Branch.objects.filter(parent__isnull=True).first() or services.branch_create(
                actor=None, code="HO", name="Head office", parent=None
            )
        return services.branch_create(
            actor=None, code=kwargs["code"], name=kwargs["name"], parent=parent
        )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.OPERATOR
    branch = factory.SubFactory(BranchFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()
