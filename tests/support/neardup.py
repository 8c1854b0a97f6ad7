"""Texts and a loopback web for the near-duplicate gate and release step tests.

The web has two origins. ``blog`` answers at once and holds a copy of the
``press`` article (which is reserved by ``X-Robots-Tag: noai``), a lightly
edited copy of a registered work, and filler pages. ``press`` answers its
reserved article only after ``ORIGINAL_DELAY`` seconds, so the copy is always
crawled, kept and written before its original is found reserved; its other
article shares the site's long navigation and footer with the reserved one.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from tdmcrawl.crawler.demo.loopback import LoggedRequest, LoopbackWeb, Reply, Site, text_reply
from tdmcrawl.crawler.items import PageItem
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.optout.decision import Decision
from tests.support.web import tdmcrawl

ORIGINAL_DELAY = 2.5  # seconds before the press site answers its reserved article

ORIGINAL_KK = (
    "Биыл көктемде Ертіс өзенінің жағасындағы шағын ауылда жаңа мұражай ашылды. "
    "Мұражайдың негізін жергілікті тарих пәнінің мұғалімі отыз жыл бойы жинаған заттар құрады: "
    "ескі киіз үйдің уықтары, күміс білезіктер, қолжазба кітаптар және соғыс жылдарынан қалған "
    "хаттар. Ашылу салтанатына көрші аудандардан да қонақтар келді. Ауыл әкімі мұражай "
    "жастардың өз өлкесінің өткенін білуіне көмектесетінін айтты. Мұғалім әр заттың тарихын "
    "жазып, оны мектеп оқушыларымен бірге қағазға түсірген. Енді мұражай демалыс күндері де "
    "ашық болады, ал жазда туристер үшін арнайы экскурсиялар ұйымдастырылмақ. Қонақтар "
    "естелік кітабына жылы лебіздерін қалдырып, келесі жылы тағы келуге уәде берді. "
    "Ұйымдастырушылар қолөнер шеберлерінің көрмесін өткізуді де жоспарлап отыр."
)

OTHER_KK = (
    "Қала кітапханасы балаларға арналған жазғы оқу бағдарламасын бастады. Әр апта сайын "
    "оқушылар жаңа кітап таңдап, оқығандары туралы шағын әңгіме жазады. Кітапханашылар "
    "ертегілер кешін, суретшілермен кездесулер және шахмат үйірмесін ұйымдастырады. "
    "Бағдарламаға қатысқан балалар тамыз айының соңында сыйлықтар алады, ал ең белсенді "
    "оқырмандардың аттары кітапхананың құрмет тақтасына жазылады. Ата-аналар бұл бастаманы "
    "қолдап, балалардың телефонға аз уақыт жұмсайтынын байқағандарын айтты. Кітапхана "
    "директоры келесі жылы бағдарламаға ауыл мектептерін де қосуды ұсынды. Жаңа кітаптар "
    "қоры демеушілердің көмегімен толықтырылды."
)

REGISTERED_RU = (
    "Осенью в маленьком городе на берегу реки открылась мастерская, где старые мастера учат "
    "подростков резьбе по дереву. Каждую субботу в мастерскую приходят двадцать учеников, и "
    "каждый из них выбирает своё первое изделие: ложку, шкатулку или деревянную игрушку. "
    "Руководитель мастерской рассказывает, что главное в ремесле терпение и внимательность к "
    "материалу. Дерево для работы привозят из соседнего леса, где его заготавливают по "
    "особым правилам. Лучшие работы учеников весной покажут на городской ярмарке, а часть "
    "денег от продажи пойдёт на покупку новых инструментов. Родители говорят, что дети стали "
    "спокойнее и увереннее в себе, а некоторые уже мечтают открыть собственную мастерскую."
)

# The press site's template: long enough that, were it not removed as boilerplate, the
# reserved article and an unrelated article of the same site would share half their text.
BOILERPLATE_NAV = (
    "Басты бет Жаңалықтар Саясат Экономика Мәдениет Спорт Білім Денсаулық Қоғам Аймақтар "
    "Сұхбат Фоторепортаж Бейнежазба Мұрағат Редакция Жарнама Байланыс Жазылу Іздеу "
    "Главная Новости Политика Экономика Культура Спорт Образование Здоровье Общество Регионы"
)
BOILERPLATE_FOOTER = (
    "Барлық құқықтар қорғалған. Сайт материалдарын пайдаланған кезде сілтеме міндетті. "
    "Редакцияның пікірі авторлардың пікірімен сәйкес келмеуі мүмкін. Жарнама мәтіндерінің "
    "мазмұнына жарнама беруші жауап береді. Все права защищены. При использовании материалов "
    "сайта ссылка обязательна. Мнение редакции может не совпадать с мнением авторов. "
    "Редакция газеты мекенжайы: Абай даңғылы, 10, Алматы қаласы, телефон және электрондық пошта."
)


def article_html(
    title: str, text: str, *, template: bool = False, links: tuple[str, ...] = (), lang: str = "kk"
) -> bytes:
    nav = f"<nav><p>{BOILERPLATE_NAV}</p></nav>" if template else ""
    footer = f"<footer><p>{BOILERPLATE_FOOTER}</p></footer>" if template else ""
    anchors = "".join(f'<li><a href="{href}">{escape(href)}</a></li>' for href in links)
    listing = f"<ul>{anchors}</ul>" if anchors else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{nav}<main><article><h1>{escape(title)}</h1>"
        f"<p>{escape(text)}</p></article>{listing}</main>{footer}</body></html>"
    ).encode()


def html(body: bytes, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(200, [("Content-Type", "text/html; charset=utf-8"), *(headers or [])], body)


def edited(text: str) -> str:
    """A light edit of a copy: a few words replaced, a sentence added at the end."""
    return (
        text.replace("двадцать", "тридцать").replace("ложку", "миску")
        + " Так пишет наш корреспондент."
    )


def filler(i: int) -> str:
    return (
        f"Күнделік {i}. Бүгін біз бақта {i} түп алма ағашын отырғыздық, ал кешке көршілермен "
        f"бірге шай іштік. Ертең {i + 1} түп өрік ағашын отырғызамыз деп уәделестік, "
        "себебі көктем ерте келді және топырақ жылынды."
    )


def _slow(seconds: float, reply: Reply):
    def route(web: LoopbackWeb, request: LoggedRequest) -> Reply:
        time.sleep(seconds)
        return reply

    return route


FILLERS = 6


def neardup_web() -> LoopbackWeb:
    allow = text_reply("User-agent: *\nAllow: /\n")
    fillers = tuple(f"/day{i}.html" for i in range(FILLERS))
    blog = Site(
        "blog",
        {
            "/robots.txt": allow,
            "/": html(article_html("Блог", filler(100), links=("/regcopy.html", "/copy.html"))),
            # The fillers are linked from the copy, so they are written after it, in later files.
            "/copy.html": html(article_html("Көшірме", ORIGINAL_KK, links=fillers)),
            "/regcopy.html": html(article_html("Шеберхана", edited(REGISTERED_RU), lang="ru")),
        },
    )
    for i, path in enumerate(fillers):
        blog.add(path, html(article_html(f"Күнделік {i}", filler(i))))
    press = Site(
        "press",
        {
            "/robots.txt": allow,
            "/article.html": _slow(
                ORIGINAL_DELAY,
                html(
                    article_html("Жаңа мұражай", ORIGINAL_KK, template=True),
                    headers=[("X-Robots-Tag", "noai")],
                ),
            ),
            "/other.html": html(article_html("Жазғы оқу", OTHER_KK, template=True)),
        },
    )
    return LoopbackWeb([blog, press])


# --- pages for pipeline-level tests (no crawl) -----------------------------------------


def capture(url: str, body: bytes) -> Capture:
    path = "/" + url.split("/", 3)[3]
    return Capture(
        url=url,
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        headers=((b"Content-Type", b"text/html; charset=utf-8"),),
        body=body,
        request_method="GET",
        request_target=path,
        request_protocol="HTTP/1.1",
        request_headers=((b"Host", b"127.0.0.1:9"),),
        request_body=b"",
        peer_ip="127.0.0.1",
        fetched_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def page_item(path: str, text: str) -> PageItem:
    url = f"http://127.0.0.1:9/{path}"
    return PageItem(
        url=url,
        decision=Decision(url=url),
        capture=capture(url, article_html(path, text)),
        text=text,
    )


def registered_work(tmp: Path) -> tuple[Path, str]:
    """A registry file in ``tmp`` holding REGISTERED_RU as a work, through the real
    `tdmcrawl registry add`; (its path, the work's id)."""
    registry = tmp / "registry.sqlite"
    work = tmp / "masterskaya.txt"
    work.write_text(REGISTERED_RU, encoding="utf-8")
    proc = tdmcrawl(
        "registry",
        "add",
        "--registry",
        str(registry),
        "--author",
        "Анна Иванова",
        "--file",
        str(work),
        "--json",
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    work_id = json.loads(proc.stdout)["id"]
    assert work_id
    return registry, work_id
