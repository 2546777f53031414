"""``field__any=ids``: membership in a long list of ids as one parameter.

``field__in`` makes one placeholder per value and prepares each value in Python, which costs
milliseconds for the thousand series of one post; ``= ANY(%s)`` hands PostgreSQL the list as
one array. Other databases get ``IN``.
"""

from django.db.models import ForeignKey, IntegerField, Lookup


@ForeignKey.register_lookup
@IntegerField.register_lookup
class Any(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = [int(value) for value in self.rhs]
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        if not values:
            return "1 = 0", lhs_params
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]
