"""OData $filter: tokenizer, recursive-descent parser and evaluator.

The grammar is the subset of OData 4.01 that graph-api.md section 4
describes, parsed with ODataLib's precedence (tightest first): `in`, then
`not`, then the relational operators (gt ge lt le), then equality (eq ne),
then `and`, then `or`; parentheses group.  As in ODataLib, `not` binds
tighter than a comparison, so `not status eq 'new'` is a type error, and
`not (status eq 'new')` is what a client must send.

parse() turns text into a tree of small node tuples; compile_filter()
checks that tree against a resource schema (filterable properties, enum
members, operand types, strict mode) and returns a predicate over entity
indices.  Every rejection raises FilterError, which the handlers turn into
a 400 "Invalid filter clause" response, because Graph rejects what it
cannot evaluate rather than ignoring it.

Semantics are OData's two-valued ones: a comparison with a null property
value is false except `eq null` / `ne` (`x ne 'v'` is true when x is null),
and `not` simply negates.  Timestamps compare as 100 ns ticks.
"""

import re
from collections import namedtuple

import schema
import timestamps

# --- errors ------------------------------------------------------------------------


class FilterError(Exception):
    """A $filter Graph would refuse; str() is the message after the prefix."""


# --- tokens --------------------------------------------------------------------------

Token = namedtuple("Token", "kind value pos")
# kinds: "str" (decoded text), "enum" ((type name, member)), "datetime"
# (ticks), "int", "double", "guid" (lower case), "ident", "(", ")", ",",
# "/", ":", "end"

_NUMBER_RUN = re.compile(r"-?[0-9][0-9A-Za-z.:+\-]*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_INT = re.compile(r"-?[0-9]+\Z")
_DOUBLE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_PUNCT = "(),/:"
# an unquoted Edm.Guid literal (assignedLicenses/any(a:a/skuId eq 1c3e...))
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                   r"[0-9A-Fa-f]{12}(?![0-9A-Za-z_.:+\-])")


def tokenize(text):
    """Split decoded $filter text into tokens; raises FilterError."""
    tokens = []
    pos, end = 0, len(text)
    while pos < end:
        ch = text[pos]
        if ch in " \t":
            pos += 1
        elif ch == "'":
            value, pos = _read_string(text, pos)
            tokens.append(Token("str", value, pos))
        elif ch in _PUNCT:
            tokens.append(Token(ch, ch, pos))
            pos += 1
        elif _GUID.match(text, pos) and (pos == 0 or text[pos - 1] in " \t(,"):
            tokens.append(Token("guid", text[pos:pos + 36].lower(), pos))
            pos += 36
        elif text.startswith("$count", pos) and tokens and tokens[-1].kind == "/":
            # the collection count segment: proxyAddresses/$count eq 0
            tokens.append(Token("ident", "$count", pos))
            pos += len("$count")
        elif _is_digit(ch) or (ch == "-" and _is_digit(text[pos + 1:pos + 2])):
            run = _NUMBER_RUN.match(text, pos).group()
            tokens.append(_classify_number(run, pos))
            pos += len(run)
        elif ch == "_" or "a" <= ch <= "z" or "A" <= ch <= "Z":
            name = _IDENT.match(text, pos).group()
            start, pos = pos, pos + len(name)
            if text[pos:pos + 1] == "'":      # microsoft.graph.riskLevel'medium'
                member, pos = _read_string(text, pos)
                tokens.append(Token("enum", (name, member), start))
            else:
                tokens.append(Token("ident", name, start))
        else:
            raise FilterError("Syntax error: character '%s' at position %d is not "
                              "valid." % (ch, pos))
    tokens.append(Token("end", None, end))
    return tokens


def _is_digit(ch):
    # str.isdigit() is true for non-ASCII digits, which OData does not allow
    return len(ch) == 1 and "0" <= ch <= "9"


def _read_string(text, pos):
    """Read a '...' literal at text[pos]; '' inside stands for one quote."""
    out = []
    i = pos + 1
    while True:
        j = text.find("'", i)
        if j < 0:
            raise FilterError("Syntax error: unterminated string literal at "
                              "position %d." % pos)
        out.append(text[i:j])
        if text[j + 1:j + 2] == "'":
            out.append("'")
            i = j + 2
        else:
            return "".join(out), j + 1


def _classify_number(run, pos):
    if "T" in run:
        try:
            return Token("datetime", timestamps.parse(run), pos)
        except ValueError:
            raise FilterError("The DateTimeOffset literal '%s' at position %d is not "
                              "valid." % (run, pos)) from None
    if _INT.match(run):
        return Token("int", int(run), pos)
    if _DOUBLE.match(run):
        return Token("double", float(run), pos)
    raise FilterError("Syntax error: '%s' at position %d is not a valid literal "
                      "(GUIDs and dates without a time are not accepted here)."
                      % (run, pos))


# --- syntax tree ---------------------------------------------------------------------

# ("and"|"or", left, right)       ("not", operand)
# ("cmp", op, left, right)        ("in", operand, [literal, ...])
# ("path", [segment, ...])        ("lambda", [path...], var, body)
# ("lit", kind, value)  kind: str enum datetime int double bool null
# ("call", name, [args])

COMPARISON = ("eq", "ne", "gt", "ge", "lt", "le")
RANGE = ("gt", "ge", "lt", "le")
_MIRROR = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_LITERAL_WORDS = {"true": ("lit", "bool", True), "false": ("lit", "bool", False),
                  "null": ("lit", "null", None)}
_RESERVED = frozenset(("and", "or", "not", "in", "has") + COMPARISON)


class Parser:
    """Recursive descent over the token list, one method per precedence level."""

    def __init__(self, text):
        self.tokens = tokenize(text)
        self.i = 0

    def parse(self):
        if self.peek().kind == "end":
            raise FilterError("The $filter expression is empty.")
        node = self.parse_or()
        if self.peek().kind != "end":
            self.fail("unexpected '%s'" % self.peek().value)
        return node

    # token helpers
    def peek(self):
        return self.tokens[self.i]

    def advance(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def keyword(self, *words):
        token = self.peek()
        if token.kind == "ident" and token.value in words:
            self.i += 1
            return token.value
        return None

    def expect(self, kind):
        token = self.peek()
        if token.kind != kind:
            self.fail("expected '%s'" % kind)
        self.i += 1
        return token

    def fail(self, what):
        token = self.peek()
        where = "the end" if token.kind == "end" else "position %d" % token.pos
        raise FilterError("Syntax error at %s: %s." % (where, what))

    # precedence levels, loosest first
    def parse_or(self):
        node = self.parse_and()
        while self.keyword("or"):
            node = ("or", node, self.parse_and())
        return node

    def parse_and(self):
        node = self.parse_equality()
        while self.keyword("and"):
            node = ("and", node, self.parse_equality())
        return node

    def parse_equality(self):
        node = self.parse_relational()
        while True:
            op = self.keyword("eq", "ne")
            if op is None:
                return node
            node = ("cmp", op, node, self.parse_relational())

    def parse_relational(self):
        node = self.parse_unary()
        while True:
            op = self.keyword(*RANGE)
            if op is None:
                return node
            node = ("cmp", op, node, self.parse_unary())

    def parse_unary(self):
        if self.keyword("not"):
            return ("not", self.parse_unary())
        return self.parse_membership()

    def parse_membership(self):
        node = self.parse_primary()
        if self.keyword("in"):
            self.expect("(")
            items = [self.parse_literal()]
            while self.peek().kind == ",":
                self.advance()
                items.append(self.parse_literal())
            self.expect(")")
            return ("in", node, items)
        if self.keyword("has"):
            raise FilterError("The 'has' operator is not supported.")
        return node

    def parse_primary(self):
        token = self.peek()
        if token.kind == "(":
            self.advance()
            node = self.parse_or()
            self.expect(")")
            return node
        if token.kind == "ident" and token.value not in _RESERVED:
            if token.value in _LITERAL_WORDS:
                self.advance()
                return _LITERAL_WORDS[token.value]
            return self.parse_path()
        return self.parse_literal()

    def parse_literal(self):
        token = self.advance()
        if token.kind in ("str", "enum", "datetime", "int", "double", "guid"):
            return ("lit", token.kind, token.value)
        if token.kind == "ident" and token.value in _LITERAL_WORDS:
            return _LITERAL_WORDS[token.value]
        self.i -= 1
        self.fail("expected a literal")

    def parse_path(self):
        segments = [self.advance().value]
        if self.peek().kind == "(":
            return self.parse_call(segments[0])
        while self.peek().kind == "/":
            self.advance()
            name = self.expect("ident").value
            if name in ("any", "all") and self.peek().kind == "(":
                return self.parse_lambda(segments, name)
            segments.append(name)
        return ("path", segments)

    def parse_lambda(self, collection, operator):
        self.expect("(")
        if operator == "all":
            raise FilterError("The 'all' lambda operator is not supported by any "
                              "property.")
        if self.peek().kind == ")":
            raise FilterError("'%s/any()' without a lambda expression is not "
                              "supported." % "/".join(collection))
        var = self.expect("ident").value
        self.expect(":")
        body = self.parse_or()
        self.expect(")")
        return ("lambda", collection, var, body)

    def parse_call(self, name):
        """name(arg, ...): ("call", name, [args]).  No function works on the
        security lists (Compiler refuses them); directory objects take
        startsWith and endsWith (directory.py)."""
        self.expect("(")
        args = []
        if self.peek().kind != ")":
            args.append(self.parse_or())
            while self.peek().kind == ",":
                self.advance()
                args.append(self.parse_or())
        self.expect(")")
        return ("call", name, args)


def parse(text):
    """Parse decoded $filter text into a syntax tree; raises FilterError."""
    return Parser(text).parse()


# --- checking and compiling ------------------------------------------------------------

class FilterOptions(namedtuple("FilterOptions", "prefer case_insensitive strict")):
    """What else decides a filter's meaning: the Prefer header and config."""


# the documented alert evidence lambdas: cast type -> (property path, column)
EVIDENCE_LAMBDAS = {
    "microsoft.graph.security.deviceEvidence": (("deviceDnsName",), "evidence:device"),
    "microsoft.graph.security.userEvidence": (("userAccount", "userPrincipalName"),
                                              "evidence:upn"),
}

_NUMERIC = (schema.INT32, schema.DOUBLE)
_RANGE_TYPES = (schema.DATETIME,) + _NUMERIC


class Compiler:
    """Type-checks a syntax tree for one resource and builds a predicate.

    A predicate is a function of an entity index returning bool; it reads
    the collection's comparison columns (see tenant.Collection.column).
    """

    def __init__(self, resource, collection, options):
        self.resource = resource
        self.collection = collection
        self.options = options

    def compile(self, node):
        kind = node[0]
        if kind in ("and", "or"):
            if kind == "or":
                self.refuse_in_strict("the 'or' operator")
            left, right = self.compile(node[1]), self.compile(node[2])
            if kind == "and":
                return lambda i: left(i) and right(i)
            return lambda i: left(i) or right(i)
        if kind == "not":
            self.refuse_in_strict("the 'not' operator")
            operand = self.compile(node[1])
            return lambda i: not operand(i)
        if kind == "cmp":
            return self.compile_comparison(*node[1:])
        if kind == "in":
            return self.compile_in(node[1], node[2])
        if kind == "lambda":
            return self.compile_lambda(*node[1:])
        if kind == "call":
            raise FilterError("The function '%s' is not supported." % node[1])
        raise FilterError("A boolean expression was expected, not %s."
                          % describe(node))

    def refuse_in_strict(self, what):
        """Config `strict`: only eq, in, timestamp ranges and `and` pass."""
        if self.options.strict:
            raise FilterError("%s is not supported." % _cap(what))

    # -- properties and literals
    def property(self, node):
        """The schema Property a ("path", ...) operand names, if filterable."""
        if node[0] != "path":
            raise FilterError("A property was expected, found %s." % describe(node))
        name = "/".join(node[1])
        prop = self.resource.property(node[1][0]) if len(node[1]) == 1 else None
        if prop is None and self.resource.property(node[1][0]) is None:
            raise FilterError("Could not find a property named '%s' on type '%s'."
                              % (node[1][0], self.resource.entity_type))
        if prop is None or prop.name not in self.resource.filterable:
            raise FilterError("The property '%s' is not supported in $filter on %s."
                              % (name, self.resource.name))
        return prop

    def literal(self, prop, node, op):
        """The comparable value of literal `node` for `prop`, type-checked."""
        if node[0] != "lit":
            raise FilterError("The right operand of '%s' must be a literal, not %s."
                              % (op, describe(node)))
        kind, value = node[1], node[2]
        if kind == "null":
            self.refuse_in_strict("comparison with null")
            if op in RANGE:
                raise FilterError("The '%s' operator does not accept null." % op)
            return None
        if prop.enum is not None:
            return self.enum_member(prop, kind, value)
        expected = {schema.STRING: ("str",), schema.DATETIME: ("datetime",),
                    schema.BOOLEAN: ("bool",), schema.INT32: ("int",),
                    schema.DOUBLE: ("int", "double")}.get(prop.type, ())
        if kind not in expected:
            raise FilterError("A binary operator with incompatible types was detected. "
                              "Found operand types '%s' and '%s' for operator kind '%s'."
                              % (prop.type, _edm(kind), op))
        return value

    def enum_member(self, prop, kind, value):
        enum = prop.enum
        if kind == "enum":
            type_name, value = value
            if type_name != enum.name:
                raise FilterError("The enum type '%s' does not match the type '%s' of "
                                  "property '%s'." % (type_name, enum.name, prop.name))
        elif kind != "str":
            raise FilterError("The property '%s' is an enum (%s); compare it with a "
                              "member name in quotes." % (prop.name, enum.name))
        if value not in enum:
            raise FilterError("The string '%s' is not a valid enumerated type constant "
                              "of '%s'." % (value, enum.name))
        if value in enum.evolvable and not self.options.prefer:
            raise FilterError("The member '%s' of '%s' may only be sent with the "
                              "'Prefer: include-unknown-enum-members' header."
                              % (value, enum.name))
        return value

    # -- operators
    def compile_comparison(self, op, left, right):
        if left[0] == "lit" and right[0] != "lit":
            op, left, right = _MIRROR[op], right, left
        prop = self.property(left)
        if op == "ne":
            self.refuse_in_strict("the 'ne' operator")
        if op in RANGE and prop.type not in _RANGE_TYPES:
            what = "enum" if prop.enum is not None else prop.type
            raise FilterError("The '%s' operator is not supported on the %s property "
                              "'%s'." % (op, what, prop.name))
        if op in RANGE and self.options.strict and prop.type != schema.DATETIME:
            raise FilterError("The '%s' operator is only supported on timestamps." % op)
        value = self.literal(prop, right, op)
        column = self.collection.column(prop.name)
        if prop.type == schema.STRING and self.options.case_insensitive and value is not None:
            return _folded_comparison(op, column, value)
        return _comparison(op, column, value)

    def compile_in(self, operand, items):
        prop = self.property(operand)
        values = [self.literal(prop, item, "in") for item in items]
        column = self.collection.column(prop.name)
        if prop.type == schema.STRING and self.options.case_insensitive:
            folded = frozenset(v.casefold() for v in values if v is not None)
            has_null = None in values
            return lambda i: (column[i] is None and has_null) or (
                column[i] is not None and column[i].casefold() in folded)
        wanted = frozenset(values)
        return lambda i: column[i] in wanted

    def compile_lambda(self, collection, var, body):
        self.refuse_in_strict("a lambda expression")
        if not self.resource.evidence_lambdas or collection != ["evidence"]:
            raise FilterError("The lambda expression on '%s' is not supported on %s."
                              % ("/".join(collection), self.resource.name))
        if body[0] != "cmp" or body[1] != "eq":
            raise FilterError("Only 'e/<evidence type>/<property> eq <string>' is "
                              "supported inside evidence/any().")
        op, left, right = body[1:]
        if left[0] == "lit":
            left, right = right, left
        column = self.evidence_column(var, left)
        if right[0] != "lit" or right[1] != "str":
            raise FilterError("The evidence lambda must compare with a string literal.")
        value = right[2]
        if self.options.case_insensitive:
            value = value.casefold()
            return lambda i: any(v.casefold() == value for v in column[i])
        return lambda i: value in column[i]

    def evidence_column(self, var, path_node):
        if path_node[0] != "path" or len(path_node[1]) < 3 or path_node[1][0] != var:
            raise FilterError("The lambda body must start with the range variable "
                              "'%s' and a type cast." % var)
        cast, rest = path_node[1][1], tuple(path_node[1][2:])
        known = EVIDENCE_LAMBDAS.get(cast)
        if known is None or known[0] != rest:
            raise FilterError("'%s' is not a supported evidence filter."
                              % "/".join(path_node[1]))
        return self.collection.column(known[1])


def _comparison(op, column, value):
    """Predicate for `property op value` with OData's null rules."""
    if op == "eq":
        return lambda i: column[i] == value
    if op == "ne":
        return lambda i: column[i] != value
    if op == "gt":
        return lambda i: column[i] is not None and column[i] > value
    if op == "ge":
        return lambda i: column[i] is not None and column[i] >= value
    if op == "lt":
        return lambda i: column[i] is not None and column[i] < value
    return lambda i: column[i] is not None and column[i] <= value


def _folded_comparison(op, column, value):
    """eq/ne on strings under config case_insensitive (ranges never get here)."""
    folded = value.casefold()
    if op == "eq":
        return lambda i: column[i] is not None and column[i].casefold() == folded
    return lambda i: column[i] is None or column[i].casefold() != folded


def _cap(text):
    return text[:1].upper() + text[1:]


def _edm(kind):
    return {"str": "Edm.String", "datetime": "Edm.DateTimeOffset", "int": "Edm.Int32",
            "double": "Edm.Double", "bool": "Edm.Boolean", "enum": "an enum"}.get(kind, kind)


def describe(node):
    """Short human description of a syntax node, for error messages."""
    kind = node[0]
    if kind == "path":
        return "the property path '%s'" % "/".join(node[1])
    if kind == "lit":
        return "the literal %r" % (node[2],)
    if kind == "cmp":
        return "a comparison"
    return "an expression (%s)" % kind


def compile_filter(text, resource, collection, options):
    """Parse and check `text`; return a predicate over entity indices."""
    return Compiler(resource, collection, options).compile(parse(text))
