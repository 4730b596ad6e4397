"""Few-shot documents for a base model (an LLM engine with `writes_documents`, such as the bundled Gemma 3 270M):
a base model is not told what to write, it is shown the start of a document in the record's language and
continues it. Each language has its labels and one worked example on another subject (bread at home), so
the continuation comes out in the language, in the shape asked for; cs-idea, cs-script and cs-meta parse it.

`LANGUAGES` holds the languages with a template; the local engine only picks a base model for those
(engines/llm_local.py `MODELS`, a test holds it). Cheap to import (the standard library, text and languages).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from . import languages, text
from .errors import EngineError


class Template(NamedTuple):
    """One language's document: labels of a concept's fields and of metadata, a worked example of each,
    and the call to action the script ends on (fixed text: a base model asked for one writes anything)."""

    headlines: str  # "the best articles about {topic}:", opening a numbered list of headlines
    article: str  # "a short article about {topic}.", heading the narration
    article_words: str  # the words for "article": a sentence with them talks about the document
    angle: str  # with {topic}: the concept's angle when the article gave one sentence only
    audience: str  # with {topic}
    topic: str  # labels of cs-meta's lines
    title: str
    description: str
    tags: str
    list_separator: str  # between tags
    example: dict  # topic, subject, title, description, tags: cs-meta's worked example, on bread
    cta: str  # with {topic}


LANGUAGES: dict[str, Template] = {
    "ar": Template(
        headlines="أفضل المقالات عن {topic}:", article="مقالة قصيرة عن {topic}.",
        article_words="مقالة مقالات المقالة المقالات مقال المقال مقدمة قصيرة", angle="نصائح بسيطة وسريعة عن {topic}.",
        audience="المهتمون بموضوع {topic}",
        topic="الموضوع", title="العنوان", description="الوصف", tags="الوسوم", list_separator="، ",
        example={
            "topic": "الخبز في البيت",
            "subject": "الخبز خبز العجين الخميرة الدقيق الرغيف الفرن",  # words that only the example is about
            "title": "خبز طازج في البيت بخطوات سهلة",
            "description": "الخبز القاسي سببه عادات صغيرة. تعلّم كيف تعجن العجين وتتركه يرتاح وتخبزه في فرن ساخن.",
            "tags": ["الخبز", "خبز البيت", "العجين", "الخميرة", "وصفات سهلة"],
        },
        cta="اشترك في القناة لتشاهد المزيد عن {topic}."),
    "es": Template(
        headlines="Los mejores artículos sobre {topic}:", article="Un artículo breve sobre {topic}.",
        article_words="artículo artículos breve introducción", angle="Consejos sencillos y rápidos sobre {topic}.",
        audience="Personas interesadas en {topic}",
        topic="Tema", title="Título", description="Descripción", tags="Etiquetas", list_separator=", ",
        example={
            "topic": "pan casero",
            "subject": "pan masa levadura harina horno hogaza",
            "title": "Pan casero en pasos sencillos",
            "description": "Un pan duro viene de pequeños hábitos. Aprende a amasar, dejar reposar la masa y "
                           "hornearla en un horno bien caliente.",
            "tags": ["pan casero", "masa madre", "levadura", "recetas fáciles", "hornear"],
        },
        cta="Suscríbete para ver más sobre {topic}."),
    "de": Template(
        headlines="Die besten Artikel über {topic}:", article="Ein kurzer Artikel über {topic}.",
        article_words="Artikel Artikels kurzer Einführung", angle="Einfache und schnelle Tipps zu {topic}.",
        audience="Alle, die sich für {topic} interessieren",
        topic="Thema", title="Titel", description="Beschreibung", tags="Schlagwörter", list_separator=", ",
        example={
            "topic": "Brot backen zu Hause",
            "subject": "Brot Teig Hefe Mehl Ofen Laib",
            "title": "Frisches Brot zu Hause in einfachen Schritten",
            "description": "Hartes Brot kommt von kleinen Gewohnheiten. Lerne, den Teig zu kneten, ruhen zu lassen "
                           "und in einem heißen Ofen zu backen.",
            "tags": ["Brot backen", "Sauerteig", "Hefe", "einfache Rezepte", "Backen"],
        },
        cta="Abonniere den Kanal für mehr über {topic}."),
}


def template(language: str | None) -> Template | None:
    return LANGUAGES.get(languages.base(language))


def check_engine(engine, language: str) -> None:
    """A base model (ENGINE.writes_documents) can only write a LANGUAGE that has a template: one EngineError
    naming what to do (cs-idea and cs-script ask this before the first call)."""
    if engine.writes_documents and template(language) is None:
        raise EngineError(f"the {engine.name} LLM continues documents and has no template for {language}; "
                          "pass --model with a chat model")


def narration(sentence: str, language: str, title: str) -> bool:
    """SENTENCE may stand in the video: in LANGUAGE, not about the article itself, not the TITLE again."""
    return not languages.mismatch(sentence, language) and not echoes(language, sentence) \
        and not text.near_duplicate(sentence, title)


def _required(language: str) -> Template:
    found = template(language)
    if found is None:
        raise KeyError(f"no document template for {language!r}")
    return found


# --- cs-idea: a headline, then the article's first sentences ------------------------------------------


def headlines_document(language: str, topic: str) -> str:
    """The start of a numbered list of article headlines about TOPIC: base models write such lists readily,
    and headlines in it name the topic (a concept given as labelled lines copied the example's fields)."""
    return f"{_required(language).headlines.format(topic=topic)}\n\n1."


def plain(continuation: str) -> str:
    """A continuation without the HTML a web-trained base model writes (<b>, <h2>, </strong>) or its own
    special tokens spelt out (<startofimage>): text.clean would leave their names in the sentence."""
    return re.sub(r"</?[A-Za-z_][^<>]*>", " ", continuation)


def headlines(continuation: str) -> list[str]:
    """The headlines of the list's continuation: numbers, bullets and markup removed. A line that goes on
    after its headline ("<b>Café en casa:</b> un delicioso café ...", "Café en casa: un delicioso ...") gives
    the marked part, else what stands before its colon."""
    found = []
    for line in continuation.splitlines():
        line = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line)
        marked = re.match(r"\s*<(b|strong|em|h\d)>(.*?)</\1>", line)
        if marked:
            line = marked.group(2)
        line = text.clean(re.sub(r"<[^>]*>|\*\*", " ", line)).strip(" :*")
        head, colon, rest = line.partition(":")
        if colon and rest.strip() and len(head.split()) >= 2:
            line = head.strip()
        if line:
            found.append(line)
    return found


def concept_rest(language: str, topic: str, sentences: list[str]) -> dict[str, str]:
    """Hook, angle and audience: the article's first sentence, its second (else the language's stand-in)
    and the language's audience line."""
    t = _required(language)
    return {"hook": sentences[0] if sentences else "",
            "angle": sentences[1] if len(sentences) > 1 else t.angle.format(topic=topic),
            "audience": t.audience.format(topic=topic)}


def _labelled(value: str, labels: dict[str, str]) -> dict[str, str]:
    """LABEL: text lines as {key: text}, the first of each label, up to the first blank line."""
    out: dict[str, str] = {}
    for line in value.split("\n\n")[0].splitlines():
        label, colon, rest = line.partition(":")
        key = labels.get(label.strip())
        if colon and key and key not in out and rest.strip():
            out[key] = text.clean(rest)
    return out


# --- cs-script: an article to continue -----------------------------------------------------------------


def article_document(language: str, topic: str, title: str, told: list[str], spaceless: bool = False) -> str:
    """An article's header ("a short article about TOPIC."), its title and what the narration has said so
    far, to continue. No worked example: one on bread pulled Gemma's coffee and cat articles into recipes
    (8 of 22 sentences shared no word with the topic), and the header alone kept 17 of 28 on it."""
    said = ("" if spaceless else " ").join(told)
    return f"{_required(language).article.format(topic=topic)}\n\n{title}\n\n{said}"


def echoes(language: str, sentence: str) -> bool:
    """SENTENCE speaks of the article itself ("in this short article...": the header echoed)."""
    t = _required(language)
    return bool(text.stems(sentence, shortest=3, language=language) & text.stems(t.article_words, 3, language))


def cta(language: str, topic: str) -> str:
    return _required(language).cta.format(topic=topic)


# --- cs-meta: title, description and tags --------------------------------------------------------------


def metadata_document(language: str, topic: str, title: str) -> str:
    t = _required(language)
    e = t.example
    tags = t.list_separator.join(e["tags"])
    return (f"{t.topic}: {e['topic']}\n{t.title}: {e['title']}\n{t.description}: {e['description']}\n{t.tags}: {tags}"
            f"\n\n{t.topic}: {topic}\n{t.title}: {title}\n{t.description}:")


def parse_metadata(language: str, continuation: str) -> dict:
    """{description, tags} from the continuation of metadata_document (it starts inside the description)."""
    t = _required(language)
    found = _labelled(f"{t.description}:{continuation}", {t.description: "description", t.tags: "tags"})
    out: dict = {}
    if found.get("description"):
        out["description"] = found["description"]
    if found.get("tags"):
        out["tags"] = [tag.strip() for tag in re.split(r"[,،、，;؛]", found["tags"]) if tag.strip()]
    return out
