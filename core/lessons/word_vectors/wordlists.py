"""Word lists written for the debiasing lesson, after Bolukbasi et al. (2016). Every pair is written
(female, male), the order of "she – he", so that a direction taken from them points to the female side.

No word appears twice across the pair lists: equalising one pair must not undo another. The tests
check that, and that every word is in GloVe's 50,000 most frequent words.
"""

DEFINITIONAL_PAIRS = (
    ("she", "he"),
    ("her", "his"),
    ("woman", "man"),
    ("mary", "john"),
    ("herself", "himself"),
    ("daughter", "son"),
    ("mother", "father"),
    ("gal", "guy"),
    ("girl", "boy"),
    ("female", "male"),
)
"""The ten pairs of the paper whose differences define gender."""

EQUALISE_PAIRS = (
    ("actress", "actor"),
    ("queen", "king"),
    ("grandmother", "grandfather"),
    ("granddaughter", "grandson"),
    ("women", "men"),
    ("girls", "boys"),
    ("sister", "brother"),
    ("sisters", "brothers"),
    ("aunt", "uncle"),
    ("niece", "nephew"),
    ("princess", "prince"),
    ("mom", "dad"),
    ("wife", "husband"),
    ("daughters", "sons"),
    ("mothers", "fathers"),
    ("lady", "gentleman"),
    ("ladies", "gentlemen"),
    ("females", "males"),
    ("spokeswoman", "spokesman"),
    ("chairwoman", "chairman"),
    ("businesswoman", "businessman"),
    ("congresswoman", "congressman"),
    ("schoolgirl", "schoolboy"),
    ("sorority", "fraternity"),
    ("motherhood", "fatherhood"),
    ("grandma", "grandpa"),
    ("queens", "kings"),
    ("estrogen", "testosterone"),
    ("convent", "monastery"),
    ("nun", "monk"),
    ("heroine", "hero"),
    ("empress", "emperor"),
    ("duchess", "duke"),
    ("waitress", "waiter"),
    ("girlfriend", "boyfriend"),
    ("bride", "groom"),
    ("mrs", "mr"),
    ("widow", "widower"),
    ("stepmother", "stepfather"),
    ("mare", "stallion"),
)
"""Pairs that differ only by gender: after debiasing, each pair sits symmetrically about the
neutral axis, so that neither word is closer to "babysit" or "engineer" than the other."""

GENDER_SPECIFIC = tuple(
    sorted(
        {word for pair in DEFINITIONAL_PAIRS + EQUALISE_PAIRS for word in pair}
        | {
            "hers",
            "him",
            "mr.",
            "mrs.",
            "ms",
            "ms.",
            "sir",
            "madam",
            "feminine",
            "masculine",
            "womanhood",
            "manhood",
            "girlhood",
            "boyhood",
            "maternal",
            "paternal",
            "maternity",
            "paternity",
            "pregnant",
            "pregnancy",
            "ovarian",
            "prostate",
            "uterus",
            "sperm",
            "breastfeeding",
            "fiancee",
            "fiance",
            "bachelor",
            "spinster",
            "boyish",
            "girlish",
            "daddy",
            "mommy",
            "mama",
            "papa",
            "mum",
            "nephews",
            "nieces",
            "aunts",
            "uncles",
            "wives",
            "husbands",
            "princes",
            "princesses",
            "brides",
            "grooms",
            "lord",
            "lords",
            "matriarch",
            "patriarch",
            "feminist",
            "feminism",
            "women's",
            "men's",
            "girl's",
            "boy's",
        }
    )
)
"""Words whose meaning is gendered: hard debiasing leaves their gender component alone."""

PROFESSIONS = tuple(
    """
accountant administrator architect artist astronaut athlete attorney baker banker barber bartender biologist
bodyguard bookkeeper boss builder butcher captain carpenter cashier chef chemist clerk coach cook counselor dancer
dentist designer detective diplomat doctor economist editor electrician engineer farmer firefighter guard
hairdresser historian homemaker housekeeper janitor journalist judge laborer lawyer librarian lifeguard magician
manager mathematician mechanic musician nanny novelist nurse officer painter pharmacist philosopher photographer
physician physicist pilot planner plumber poet politician professor programmer psychologist receptionist reporter
researcher sailor scientist secretary senator sheriff singer skipper soldier stylist surgeon tailor teacher
technician therapist translator tutor veterinarian warrior writer
""".split()
)
"""Gender-neutral job titles: what a fair embedding should not place on either side."""

WEAT_TESTS = {
    "career vs family (names)": (
        ("john", "paul", "mike", "kevin", "steve", "greg", "jeff", "bill"),
        ("amy", "joan", "lisa", "sarah", "diana", "kate", "ann", "donna"),
        ("executive", "management", "professional", "corporation", "salary", "office", "business", "career"),
        ("home", "parents", "children", "family", "cousins", "marriage", "wedding", "relatives"),
    ),
    "maths vs arts": (
        ("math", "algebra", "geometry", "calculus", "equations", "computation", "numbers", "addition"),
        ("poetry", "art", "dance", "literature", "novel", "symphony", "drama", "sculpture"),
        ("male", "man", "boy", "brother", "he", "him", "his", "son"),
        ("female", "woman", "girl", "sister", "she", "her", "hers", "daughter"),
    ),
    "science vs arts": (
        ("science", "technology", "physics", "chemistry", "einstein", "nasa", "experiment", "astronomy"),
        ("poetry", "art", "shakespeare", "dance", "literature", "novel", "symphony", "drama"),
        ("brother", "father", "uncle", "grandfather", "son", "he", "his", "him"),
        ("sister", "mother", "aunt", "grandmother", "daughter", "she", "hers", "her"),
    ),
}
"""Word Embedding Association Tests 6, 7 and 8 of Caliskan et al. (2017): two target sets X, Y and
two attribute sets A, B, as (X, Y, A, B)."""

ANALOGIES_TO_KEEP = (
    ("man", "king", "woman", "queen"),
    ("he", "his", "she", "her"),
    ("father", "grandfather", "mother", "grandmother"),
    ("uncle", "aunt", "nephew", "niece"),
    ("brother", "brothers", "sister", "sisters"),
    ("paris", "france", "rome", "italy"),
)
"""a : b :: c : d questions whose answer d should survive debiasing."""

STEREOTYPE_ANALOGIES = (
    ("he", "doctor", "she"),
    ("man", "programmer", "woman"),
    ("he", "engineer", "she"),
    ("man", "surgeon", "woman"),
    ("he", "boss", "she"),
)
"""a : b :: c : ? questions whose answers show the stereotype, before and after debiasing."""
