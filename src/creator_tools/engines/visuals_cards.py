"""`cards`: an offline picture per shot (media/picture_cards.py), the last resort that always finds something.
Each card is an artifact named by what it shows, so a re-run finds it and draws nothing."""

from __future__ import annotations

from .visuals import Asset, Provider, Shot


class CardsProvider(Provider):
    name = "cards"
    last_resort = True

    def find(self, shot: Shot, avoid: set[str]) -> Asset | None:
        from .. import artifacts
        from ..media import picture_cards
        from ..media.library import content_words
        from ..media.terms import head_first

        used = {a.split(":")[1] for a in avoid if a.startswith("cards:") and a.count(":") >= 2}
        # The head nouns first: "home espresso" shows coffee, not a house (cs-thumb's posters choose alike).
        words = list(dict.fromkeys([*shot.heads, *(content_words(shot.text) or content_words(shot.query))]))
        # then the segment's hint and the topic, head nouns first too ("Ultimate guide" in a home espresso video)
        fallback = [*head_first(shot.context, shot.language), *head_first(shot.topic, shot.language)]
        char, focus = picture_cards.choose_emoji(words, used, list(dict.fromkeys(fallback)))
        phrase = picture_cards.key_phrase(shot.text or shot.query, focus, language=shot.language)
        width, height = self.settings.width, self.settings.height
        inputs = {"emoji": char, "phrase": phrase, "size": [width, height], "seed": shot.index, "style": 2}
        path = artifacts.artifact_path("visuals", shot.record_id or "card", inputs, ".png")
        if not path.is_file():
            with artifacts.atomic_output(path) as temp:
                picture_cards.draw_card(temp, width, height, char, phrase, shot.index)
        # the emoji is part of the id, so the next shot can pick another picture
        asset_id = f"cards:{char}:{path.stem.rsplit('-', 1)[-1]}"
        return Asset(kind="card", path=str(path), provider=self.name, asset_id=asset_id,
                     extra={"emoji": char, "phrase": phrase})
