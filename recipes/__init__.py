"""The zoo's training recipes, installed as the package ``era_zoo.recipes``
(setup.py maps it to this folder): find one with
``era_zoo.training.recipe.find_recipe("audio_cnn")``."""
