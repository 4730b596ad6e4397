"""Speaking rate of the offline voice cs-voice picks for each language: words per minute, or characters per
minute for scripts written without spaces. These figures are engines.tts.RATES (rounded down 3% for the
gaps between segments). Run: .venv/bin/python bench/language_rates.py

Japanese is written in kana here: Debian's espeak-ng has no kanji dictionary (cs-voice refuses kanji rather
than let it spell them out in English); Chinese has no offline voice at all for the same reason.
"""

from __future__ import annotations

from creator_tools import languages
from creator_tools.engines import tts

NARRATION = {
    "es": "El buen café empieza con granos frescos. Muele el café justo antes de prepararlo y usa agua limpia. "
          "Una buena taza necesita paciencia y práctica, pero el resultado vale la pena cada mañana.",
    "de": "Guter Kaffee beginnt mit frischen Bohnen. Mahle sie kurz vor dem Aufbrühen und nimm sauberes Wasser. "
          "Eine gute Tasse braucht Geduld und Übung, aber das Ergebnis lohnt sich jeden Morgen.",
    "ar": "القهوة الجيدة تبدأ بحبوب طازجة. اطحن البن قبل التحضير مباشرة واستخدم ماء نظيفا. "
          "الكوب الجيد يحتاج إلى الصبر والممارسة، لكن النتيجة تستحق ذلك كل صباح.",
    "hi": "अच्छी कॉफी ताज़ी फलियों से शुरू होती है। बनाने से ठीक पहले उन्हें पीसें और साफ़ पानी लें। "
          "एक अच्छे कप के लिए धैर्य और अभ्यास चाहिए, लेकिन हर सुबह इसका नतीजा अच्छा लगता है।",
    "ja": "おいしい コーヒーは あたらしい まめから はじまります。 いれる まえに まめを ひいて、 きれいな みずを "
          "つかいましょう。 まいあさの いっぱいは がんばる かちが あります。",
    "zh": "好咖啡从新鲜的咖啡豆开始。冲泡之前再研磨，并使用干净的水。一杯好咖啡需要耐心和练习。",
}


def main() -> None:
    print("language engine     unit        count  seconds  rate/min  table")
    for language, text in NARRATION.items():
        name = tts.speaking_engine(tts.DEFAULT_ENGINE, None, language)
        engine = tts.get_tts(name, None, language=language)
        try:
            pcm = engine.synthesize(text)
        except tts.UnreadableText as exc:
            print(f"{language:8} {name:10}  no offline voice: {exc.message.split(';')[0]}")
            continue
        seconds = len(pcm) / 2 / engine.sample_rate
        count = languages.units(text, language)
        rate = count / seconds * 60
        print(f"{language:8} {name:10}  {languages.unit_name(language):10} {count:6} {seconds:8.2f} {rate:9.0f}"
              f"  {tts.rate_for(tts.DEFAULT_ENGINE, language)}")


if __name__ == "__main__":
    main()
